//! MPEG-TS muxer (contract stub; the real implementation lands from the `ts` branch).

use super::mux::{Muxer, Patch, TrackSpec};

pub struct TsMuxer;

impl TsMuxer {
    pub fn new(tracks: &[TrackSpec], out: &mut Vec<u8>) -> TsMuxer {
        todo!("{tracks:?}{out:?}")
    }
}

impl Muxer for TsMuxer {
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
