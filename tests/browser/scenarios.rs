//! The browser test's scenarios: who publishes what, in which room, with which recorder options.

use std::net::SocketAddr;

use roomrec_core::signaling::{Password, RoomSecrets};

const SALT: &str = "vdo.ninja";
/// Small, so that Chromium encodes ten streams on two cores without scaling down.
pub const SMALL_CAMERA: (u64, u64, u64) = (320, 240, 15);

pub struct Guest {
    pub stream: &'static str,
    /// The video codec expected in the file (None: audio-only).
    pub vcodec: Option<&'static str>,
    /// The page offers only `vcodec` (`&vcodec=`); otherwise all of Chromium's codecs.
    pub restrict: bool,
    pub audio: bool,
    /// Hangs up 4 s after joining and comes back 2 s later with a new id.
    pub rejoin: bool,
    /// Camera constraints: width, height, frame rate.
    pub camera: (u64, u64, u64),
}

impl Guest {
    const fn av(stream: &'static str, vcodec: &'static str) -> Guest {
        Guest {
            stream,
            vcodec: Some(vcodec),
            restrict: true,
            audio: true,
            rejoin: false,
            camera: SMALL_CAMERA,
        }
    }
    pub fn video(&self) -> bool {
        self.vcodec.is_some()
    }
    pub fn label(&self) -> String {
        format!("{} cam", self.stream)
    }
    pub fn url(&self, pages: SocketAddr, relay: &str, s: &Scenario) -> String {
        let mut url = format!(
            "http://{pages}/publisher.html?room={}&push={}&label={}&ws={relay}",
            s.room,
            self.stream,
            self.label().replace(' ', "%20")
        );
        if !s.password {
            url.push_str("&password=false");
        }
        match self.vcodec {
            Some(codec) if self.restrict => url.push_str(&format!("&vcodec={codec}")),
            Some(_) => {}
            None => url.push_str("&video=0"),
        }
        if !self.audio {
            url.push_str("&audio=0");
        }
        if self.rejoin {
            url.push_str("&hangupAfter=4&rejoinAfter=2");
        }
        if self.camera != SMALL_CAMERA {
            let (w, h, fps) = self.camera;
            url.push_str(&format!("&width={w}&height={h}&fps={fps}"));
        }
        url
    }
}

pub struct Scenario {
    pub name: &'static str,
    pub room: &'static str,
    /// true: VDO.Ninja's default password; false: `password=false`.
    pub password: bool,
    pub recorder_first: bool,
    /// The recorder's `--codec` (its first entry is sent as `preferVideoCodec`).
    pub codecs: Option<&'static str>,
    /// The recorder takes every guest on one shared UDP port (`--udp-port`) instead of a
    /// socket per connection.
    pub shared_udp_port: bool,
    pub guests: Vec<Guest>,
}

impl Scenario {
    pub fn secrets(&self) -> RoomSecrets {
        let password = if self.password {
            Password::Default
        } else {
            Password::Disabled
        };
        RoomSecrets::new(self.room, &password, SALT)
    }
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "three codecs, default password, recorder first",
            room: "rrfirst",
            password: true,
            recorder_first: true,
            codecs: None,
            shared_udp_port: false,
            guests: vec![
                Guest::av("alice", "h264"),
                Guest::av("bob", "vp8"),
                Guest::av("carol", "vp9"),
            ],
        },
        Scenario {
            name: "three codecs, password=false, recorder after, one shared UDP port",
            room: "rrafter",
            password: false,
            recorder_first: false,
            codecs: None,
            shared_udp_port: true,
            guests: vec![
                Guest::av("dave", "h264"),
                Guest::av("erin", "vp8"),
                Guest::av("frank", "vp9"),
                // The size the VDO.Ninja app asks for: Chromium starts low while its bandwidth
                // estimate ramps up, so the file changes resolution (manifest and frames agree).
                Guest {
                    camera: (1280, 720, 20),
                    ..Guest::av("lena", "h264")
                },
            ],
        },
        Scenario {
            name: "rejoin, audio-only, video-only, preferVideoCodec, recorder first",
            room: "rrmix",
            password: true,
            recorder_first: true,
            codecs: Some("vp9,vp8,h264"),
            shared_udp_port: false,
            guests: vec![
                Guest {
                    rejoin: true,
                    ..Guest::av("gina", "vp8")
                },
                Guest {
                    vcodec: None,
                    ..Guest::av("hank", "")
                },
                Guest {
                    audio: false,
                    ..Guest::av("ivy", "h264")
                },
                // Offers every codec: the recorder's preferVideoCodec (vp9) must come first.
                Guest {
                    restrict: false,
                    ..Guest::av("kim", "vp9")
                },
            ],
        },
    ]
}
