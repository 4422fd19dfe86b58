//! Open-socket accounting: a global cap and a cap per client address. A refused address is
//! logged once per episode (when it first hits the cap), not once per socket.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::{info, warn};

pub(super) struct Conns {
    max_total: usize,
    max_per_ip: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// Addresses (and `None` for the global cap) refused since they were last under the cap.
    refusing: HashSet<Option<IpAddr>>,
}

/// One open socket; dropping it frees its place.
pub(super) struct Slot {
    conns: Arc<Conns>,
    ip: Option<IpAddr>,
}

impl Conns {
    pub(super) fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new socket under the global cap, or None.
    pub(super) fn open(self: &Arc<Self>) -> Option<Slot> {
        let mut st = self.lock();
        if st.total >= self.max_total {
            if st.refusing.insert(None) {
                warn!(
                    limit = self.max_total,
                    "relay: connection limit reached (--max-connections), refusing new sockets"
                );
            }
            return None;
        }
        st.total += 1;
        Some(Slot {
            conns: self.clone(),
            ip: None,
        })
    }
}

impl Slot {
    /// Count this socket against `ip`; false if that address already has its share.
    pub(super) fn claim_ip(&mut self, ip: IpAddr) -> bool {
        let conns = &self.conns;
        let mut st = conns.lock();
        let n = st.per_ip.entry(ip).or_default();
        if *n >= conns.max_per_ip {
            if st.refusing.insert(Some(ip)) {
                warn!(%ip, limit = conns.max_per_ip,
                    "relay: per-address connection limit reached (--max-connections-per-ip), refusing sockets from this address");
            }
            return false;
        }
        *n += 1;
        self.ip = Some(ip);
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let conns = &self.conns;
        let mut st = conns.lock();
        st.total -= 1;
        if st.total < conns.max_total && st.refusing.remove(&None) {
            info!("relay: back under the connection limit");
        }
        let Some(ip) = self.ip else { return };
        if let Some(n) = st.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                st.per_ip.remove(&ip);
            }
            if st.refusing.remove(&Some(ip)) {
                info!(%ip, "relay: address back under its connection limit");
            }
        }
    }
}

/// The client address a trusted proxy put last in `X-Forwarded-For` (earlier entries come from
/// the client and prove nothing).
pub(super) fn forwarded_for(header: &str) -> Option<IpAddr> {
    header.rsplit(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_in_total() {
        let conns = Conns::new(3, 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut a = conns.open().unwrap();
        let mut b = conns.open().unwrap();
        let mut c = conns.open().unwrap();
        assert!(conns.open().is_none(), "global cap");
        assert!(a.claim_ip(ip) && b.claim_ip(ip));
        assert!(!c.claim_ip(ip), "per-address cap");
        assert!(c.claim_ip("10.0.0.2".parse().unwrap()));
        drop(a);
        assert!(conns.open().is_some(), "a closed socket frees its place");
    }

    #[test]
    fn forwarded_for_takes_the_proxys_entry() {
        assert_eq!(
            forwarded_for("1.2.3.4, 5.6.7.8"),
            Some("5.6.7.8".parse().unwrap())
        );
        assert_eq!(forwarded_for(" ::1 "), Some("::1".parse().unwrap()));
        assert_eq!(forwarded_for("garbage"), None);
    }
}
