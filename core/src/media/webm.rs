//! WebM muxer (contract stub; the real implementation lands from the `webm` branch).

use super::mux::{Muxer, Patch, TrackSpec};

pub struct WebmMuxer;

impl WebmMuxer {
    pub fn new(tracks: &[TrackSpec], out: &mut Vec<u8>) -> WebmMuxer {
        todo!("{tracks:?}{out:?}")
    }
}

impl Muxer for WebmMuxer {
    fn write_frame(&mut self, track: usize, pts_ns: u64, keyframe: bool, data: &[u8], out: &mut Vec<u8>) {
        todo!("{track}{pts_ns}{keyframe}{data:?}{out:?}")
    }
    fn tick(&mut self, now_ns: u64, out: &mut Vec<u8>) {
        todo!("{now_ns}{out:?}")
    }
    fn finish(&mut self, out: &mut Vec<u8>) -> Vec<Patch> {
        todo!("{out:?}")
    }
}
