//! What a test (or a scenario step) can make the simulated participants do.

use std::time::Instant;

use roomrec_core::room::RoomInput;
use roomrec_core::signaling::Dialect;
use roomrec_testpeer::{PublisherInput, Track};

use super::net::Datagram;
use super::{Hop, PublisherSpec, Sim};

impl Sim {
    /// A `&scene` / viewer page: offers to newcomers but never sends tracks.
    pub fn add_scene(&mut self) -> usize {
        let index = self.add_publisher(PublisherSpec::new("scene", None, None));
        self.publishers[index].publisher.make_scene();
        index
    }

    pub fn publisher_join(&mut self, index: usize) {
        let client = self.relay.connect();
        let p = &mut self.publishers[index];
        p.client = Some(client);
        p.peer_id = match self.config.dialect {
            Dialect::Relay => Some(p.publisher.own_id().to_string()),
            Dialect::Official => self.relay.peer_id(client),
        };
        p.publisher
            .handle_input(self.now, PublisherInput::SignalingUp);
        self.flush();
    }

    /// Hang up like the web app (data-channel bye) and close the WebSocket.
    pub fn publisher_leave(&mut self, index: usize) {
        self.publishers[index].publisher.hang_up(self.now);
        self.flush();
        if let Some(client) = self.publishers[index].client.take() {
            self.relay.disconnect(client);
        }
        self.publishers[index]
            .publisher
            .handle_input(self.now, PublisherInput::SignalingDown);
        self.flush();
    }

    /// The publisher's machine vanishes: no bye, no more datagrams, the WebSocket just drops.
    pub fn publisher_crash(&mut self, index: usize) {
        if let Some(client) = self.publishers[index].client.take() {
            self.relay.disconnect(client);
        }
        self.publishers[index].alive = false;
        self.flush();
    }

    /// The same stream comes back under a new peer id (a reloaded page); the old one hangs up
    /// first if it is still there. Returns the new publisher's index.
    pub fn publisher_rejoin(&mut self, index: usize) -> usize {
        if self.publishers[index].alive && self.publishers[index].client.is_some() {
            self.publisher_leave(index);
        }
        self.publishers[index].alive = false;
        let spec: PublisherSpec = self.publishers[index].spec.clone();
        let new = self.add_publisher(spec);
        self.publisher_join(new);
        new
    }

    pub fn set_video_muted(&mut self, index: usize, muted: bool) {
        self.publishers[index].publisher.set_video_muted(muted);
    }

    /// Swap the video source mid-stream (same codec, e.g. another resolution).
    pub fn set_video_track(&mut self, index: usize, track: Track) -> bool {
        let p = &mut self.publishers[index];
        let taken = p.publisher.set_video_track(track.clone());
        if taken {
            p.spec.video = Some(track);
        }
        taken
    }

    /// The publisher re-negotiates on the data channel (optionally with an ICE restart).
    pub fn publisher_reoffer(&mut self, index: usize, ice_restart: bool) {
        if self.publishers[index].alive {
            self.publishers[index]
                .publisher
                .renegotiate(self.now, ice_restart);
            self.flush();
        }
    }

    /// The publisher trickles its candidates again for every open connection.
    pub fn publisher_trickle(&mut self, index: usize) {
        if self.publishers[index].alive {
            self.publishers[index].publisher.resend_candidates();
            self.flush();
        }
    }

    /// A text delivered to the recorder as if the relay forwarded it (hostile or stale input).
    pub fn inject_signaling(&mut self, text: String) {
        match self.recorder_client {
            Some(client) => {
                let at = self.now + self.config.signaling_latency;
                self.signaling.push(at, (Hop::ToClient(client), text));
            }
            None => self
                .recorder
                .room_input(self.now, RoomInput::SignalingText(text)),
        }
    }

    /// A datagram to the `n`th connection the recorder ever started (if it is still there).
    pub fn inject_datagram(&mut self, n: usize, contents: Vec<u8>) {
        let Some(addr) = self.recorder.observer.sessions.get(n).map(|s| s.addr) else {
            return;
        };
        let source = self.publishers.first().map(|p| p.addr).unwrap_or(addr);
        self.net.send(
            self.now,
            Datagram {
                source,
                destination: addr,
                contents,
            },
        );
    }

    /// Runs the end-of-run checks of the observer and reads back every file; returns every
    /// violation seen.
    pub fn finish(&mut self) -> Vec<String> {
        let now: Instant = self.now;
        self.recorder.observer.finish(now);
        let mut violations = self.recorder.observer.violations.clone();
        violations.extend(super::files_check::check_files(&self.recorder.files));
        violations
    }
}
