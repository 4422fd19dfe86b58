//! STUN and TURN servers as configured (`--stun`, `--turn`, `--turn-ca`, `--relay-only`): the
//! defaults, the TLS trust for `turns:`, and name resolution (core takes addresses only).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roomrec_core::ice::{StunUrl, TurnServer, TurnTransport, TurnUrl};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The VDO.Ninja web app's own STUN servers: used by default for VDO.Ninja signaling hosts.
pub const WEB_APP_STUN: [&str; 2] = [
    "stun:stun.l.google.com:19302",
    "stun:stun.cloudflare.com:3478",
];

/// The servers a recording uses, checked.
#[derive(Clone, Debug, Default)]
pub struct IceServers {
    pub stun: Vec<StunUrl>,
    pub turn: Vec<TurnUrl>,
    /// Trust for `turns:` servers (Mozilla's roots plus `--turn-ca`), when any is configured.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub relay_only: bool,
}

impl IceServers {
    /// `stun`: None = the web app's servers for a VDO.Ninja host, none for others; an empty
    /// list = off (`--stun false`).
    pub fn new(
        stun: Option<Vec<StunUrl>>,
        turn: Vec<TurnUrl>,
        turn_ca: Option<&Path>,
        relay_only: bool,
        signaling_host: &str,
    ) -> Result<IceServers, String> {
        if relay_only && turn.is_empty() {
            return Err("--relay-only needs at least one --turn server".into());
        }
        let stun = match stun {
            Some(list) => list,
            None if is_vdo_ninja_host(signaling_host) => WEB_APP_STUN
                .iter()
                .map(|u| roomrec_core::ice::parse_stun(u).expect("built-in URL parses"))
                .collect(),
            None => Vec::new(),
        };
        let tls = if turn.iter().any(|t| t.transport == TurnTransport::Tls) || turn_ca.is_some() {
            Some(tls_config(turn_ca)?)
        } else {
            None
        };
        Ok(IceServers {
            stun,
            turn,
            tls,
            relay_only,
        })
    }

    /// Resolves every server; one that does not resolve is logged and left out (a recording
    /// without the internet still records its LAN).
    pub async fn resolve(&self) -> (Vec<SocketAddr>, Vec<TurnServer>) {
        let mut stun = Vec::new();
        for url in &self.stun {
            match resolve(&url.host, url.port).await {
                Ok(addr) => stun.push(addr),
                Err(e) => tracing::warn!("STUN server {url} left out: {e}"),
            }
        }
        let mut turn = Vec::new();
        for url in &self.turn {
            match resolve(&url.host, url.port).await {
                Ok(address) => turn.push(TurnServer {
                    url: url.clone(),
                    address,
                    tls: self.tls.clone(),
                }),
                Err(e) => tracing::warn!("TURN server {url} left out: {e}"),
            }
        }
        (stun, turn)
    }
}

fn is_vdo_ninja_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "vdo.ninja" || host.ends_with(".vdo.ninja")
}

/// IPv4 first: most TURN deployments and our sockets are IPv4.
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{host} has no address"))
}

/// Mozilla's roots (webpki-roots) plus the certificates in `extra_ca` (PEM).
fn tls_config(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let extra = match extra_ca {
        Some(path) => read_certs(path)?,
        None => Vec::new(),
    };
    crate::ws::client_tls_config(extra).map_err(|e| match extra_ca {
        Some(path) => format!("--turn-ca {}: {e}", path.display()),
        None => e,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = PathBuf::from(path).display().to_string();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("--turn-ca {shown}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--turn-ca {shown}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("--turn-ca {shown}: no PEM certificate in it"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_signaling_host() {
        let official = IceServers::new(None, vec![], None, false, "wss.vdo.ninja").unwrap();
        assert_eq!(official.stun.len(), 2);
        let own = IceServers::new(None, vec![], None, false, "relay.example.org").unwrap();
        assert!(own.stun.is_empty());
        let off = IceServers::new(Some(vec![]), vec![], None, false, "vdo.ninja").unwrap();
        assert!(off.stun.is_empty());
        assert!(IceServers::new(None, vec![], None, true, "vdo.ninja").is_err());
    }

    #[test]
    fn a_bad_ca_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("roomrec-ca-test-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate").unwrap();
        let turn = vec![roomrec_core::ice::parse_turn("turns:u:p@h").unwrap()];
        let err = IceServers::new(None, turn.clone(), Some(&dir), false, "h").unwrap_err();
        assert!(err.contains("no PEM certificate"), "{err}");
        let _ = std::fs::remove_file(&dir);
        let missing = IceServers::new(
            None,
            turn,
            Some(Path::new("/nonexistent/ca.pem")),
            false,
            "h",
        );
        assert!(missing.is_err());
    }
}
