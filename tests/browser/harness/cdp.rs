//! Headless Debian Chromium driven over the DevTools protocol: one browser, one tab per publisher.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Quiet, offline, fake camera and microphone, loopback ICE, real IPs instead of mDNS names.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    // Several tabs publish at once; none of them may be throttled as a background tab.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--remote-debugging-port=0",
];

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    child: Child,
    socket: Mutex<Socket>,
    next_id: AtomicU64,
    pub log: PathBuf,
}

#[derive(Clone, Debug)]
pub struct Page {
    target: String,
    session: String,
}

impl Browser {
    /// Starts Chromium with a fresh profile in `profile`; its stderr goes to `log`.
    pub async fn launch(profile: PathBuf, log: PathBuf) -> Browser {
        let stderr = std::fs::File::create(&log).expect("create the Chromium log");
        let child = Command::new(CHROMIUM)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group, so the renderers and helpers end with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
        // Chromium writes the chosen port and the browser's WebSocket path into the profile.
        let port_file = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            let text = std::fs::read_to_string(&port_file).unwrap_or_default();
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                break format!("ws://127.0.0.1:{port}{path}");
            }
            if Instant::now() > deadline {
                let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("Chromium did not open its DevTools port within 30 s:\n{log_text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (socket, _) = connect_async(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to Chromium's DevTools at {url}: {e}"));
        Browser {
            child,
            socket: Mutex::new(socket),
            next_id: AtomicU64::new(1),
            log,
        }
    }

    /// One CDP command; events and other replies on the socket are skipped.
    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut socket = self.socket.lock().await;
        socket
            .send(Message::text(msg.to_string()))
            .await
            .map_err(|e| format!("{method}: send: {e}"))?;
        let reply = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                        if v["id"] == json!(id) {
                            return Ok(v);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(format!("{method}: {e}")),
                    None => return Err(format!("{method}: DevTools connection closed")),
                }
            }
        })
        .await
        .map_err(|_| format!("{method}: no reply within 20 s"))??;
        match reply.get("error") {
            Some(e) => Err(format!("{method}: {e}")),
            None => Ok(reply["result"].clone()),
        }
    }

    /// Opens `url` in a new tab.
    pub async fn open(&self, url: &str) -> Result<Page, String> {
        let created = self
            .call(None, "Target.createTarget", json!({ "url": url }))
            .await?;
        let target = created["targetId"]
            .as_str()
            .ok_or("no targetId")?
            .to_string();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or("no sessionId")?
            .to_string();
        Ok(Page { target, session })
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its JSON value.
    pub async fn eval(&self, page: &Page, expression: &str) -> Result<Value, String> {
        let params = json!({"expression": expression, "returnByValue": true, "awaitPromise": true});
        let r = self
            .call(Some(&page.session), "Runtime.evaluate", params)
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(format!("{expression}: {ex}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// The page's `window.__roomrec` (Null before the script ran).
    pub async fn state(&self, page: &Page) -> Result<Value, String> {
        let text = self
            .eval(page, "JSON.stringify(window.__roomrec || null)")
            .await?;
        serde_json::from_str(text.as_str().unwrap_or("null")).map_err(|e| e.to_string())
    }

    /// A PNG of the page's viewport, `width` x `height` CSS pixels.
    pub async fn screenshot(
        &self,
        page: &Page,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, String> {
        let metrics =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false});
        self.call(
            Some(&page.session),
            "Emulation.setDeviceMetricsOverride",
            metrics,
        )
        .await?;
        let shot = self
            .call(
                Some(&page.session),
                "Page.captureScreenshot",
                json!({"format": "png"}),
            )
            .await?;
        let data = shot["data"].as_str().ok_or("no screenshot data")?;
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("screenshot: {e}"))
    }

    pub async fn close_page(&self, page: &Page) {
        let _ = self
            .call(None, "Target.closeTarget", json!({"targetId": page.target}))
            .await;
    }

    /// Asks Chromium to quit; kills its process group if it does not within 5 s.
    pub async fn shutdown(mut self) {
        let _ = self.call(None, "Browser.close", json!({})).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                // Helpers (renderers, zygote) that outlived the browser process.
                let group = format!("-{}", self.child.id());
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &group])
                    .stderr(Stdio::null())
                    .status();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill();
    }

    fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let group = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill();
    }
}
