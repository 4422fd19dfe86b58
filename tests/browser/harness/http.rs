//! A tiny static HTTP server for the publisher page (plain files from one directory), on 127.0.0.1
//! of the network namespace it starts in.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Serves the files directly inside `dir` until the process exits; returns the address.
pub fn serve(dir: PathBuf) -> SocketAddr {
    let server = PageServer::start(dir);
    let addr = server.addr;
    std::mem::forget(server);
    addr
}

/// A page server on 127.0.0.1 of the calling thread's network namespace, stopped on drop (drop
/// it in the same namespace: it wakes its accept loop with a connection to itself).
pub struct PageServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl PageServer {
    pub fn start(dir: PathBuf) -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the page server");
        let addr = listener.local_addr().expect("page server address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let dir = dir.clone();
                std::thread::spawn(move || handle(stream, &dir));
            }
        });
        PageServer { addr, stop }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn handle(mut stream: TcpStream, dir: &Path) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let name = target
        .split('?')
        .next()
        .unwrap_or("")
        .trim_start_matches('/');
    // Only plain names of files in `dir`: nothing else on the machine is reachable.
    let safe = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !name.starts_with('.');
    let body = if safe {
        std::fs::read(dir.join(name)).ok()
    } else {
        None
    };
    let response = match body {
        Some(body) => {
            let kind = match name.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                _ => "application/octet-stream",
            };
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(&body);
            r
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = stream.write_all(&response);
}
