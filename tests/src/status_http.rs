//! For the `--http` tests: `roomrec demo --http` as a child process, and a small blocking HTTP/1.1
//! client over a real TCP socket (requests, and a Server-Sent Events reader on its own thread).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use roomrec_test_support::binary::roomrec_bin;

/// `roomrec demo --http 127.0.0.1:0 ...`, its status address read from its log.
pub struct Demo {
    child: Child,
    pub addr: SocketAddr,
    /// Every stderr line so far arrives here.
    log: mpsc::Receiver<String>,
    pub log_lines: Vec<String>,
}

impl Demo {
    /// Starts the demo recording into `dir` for at most `seconds`, with `extra` flags.
    pub fn start(dir: &Path, seconds: u64, extra: &[&str]) -> Demo {
        let mut child = Command::new(roomrec_bin())
            .args(["demo", "--seconds", &seconds.to_string(), "--output-dir"])
            .arg(dir)
            .args(["--http", "127.0.0.1:0"])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roomrec demo");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut demo = Demo {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            log_lines: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let Ok(line) = demo.log.recv_timeout(Duration::from_millis(200)) else {
                continue;
            };
            demo.log_lines.push(line.clone());
            if let Some(rest) = line.split("live status on http://").nth(1) {
                let addr = rest.split('/').next().unwrap_or("");
                demo.addr = addr.parse().expect("status address");
                return demo;
            }
        }
        panic!(
            "roomrec demo did not say where its status page is:\n{}",
            demo.log_lines.join("\n")
        );
    }

    /// Waits for the process to exit (it must within `limit`), collecting its log.
    pub fn wait(mut self, limit: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + limit;
        loop {
            while let Ok(line) = self.log.try_recv() {
                self.log_lines.push(line);
            }
            if let Some(status) = self.child.try_wait().expect("wait for roomrec") {
                while let Ok(line) = self.log.recv_timeout(Duration::from_millis(200)) {
                    self.log_lines.push(line);
                }
                return (status, std::mem::take(&mut self.log_lines));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "roomrec demo did not exit within {limit:?}:\n{}",
                    self.log_lines.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `method path` with `headers`, `Connection: close`; the whole response.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the status server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of the response head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size");
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// `GET /events`: each event's `data:` (one JSON event line) arrives on the returned channel.
/// The connection stays open until the returned stream is dropped (shut down).
pub fn subscribe_events(addr: SocketAddr, path: &str) -> (TcpStream, mpsc::Receiver<String>) {
    let mut stream = TcpStream::connect(addr).expect("connect for /events");
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send /events");
    let reader = stream.try_clone().expect("clone");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Chunked transfer: chunk-size lines are not `data:` lines, so reading lines is enough
        // (a data line is never split across chunks by axum's SSE writer).
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if let Some(data) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                if tx.send(data.to_string()).is_err() {
                    return;
                }
            }
        }
    });
    (stream, rx)
}
