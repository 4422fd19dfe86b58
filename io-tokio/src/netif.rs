//! Which local addresses a session announces as ICE host candidates.

use std::net::IpAddr;

/// Addresses of every running, non-loopback interface (link-local ones are left out: they need a
/// scope to be bound and are of no use to a remote publisher).
pub fn host_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(list) => {
            let mut ips: Vec<IpAddr> = list
                .into_iter()
                .filter(|i| !i.is_loopback() && !i.is_link_local() && i.is_oper_up())
                .map(|i| i.ip())
                .filter(|ip| !ip.is_unspecified() && !ip.is_multicast())
                .collect();
            ips.sort();
            ips.dedup();
            ips
        }
        Err(e) => {
            tracing::error!("cannot list network interfaces: {e}");
            Vec::new()
        }
    }
}

/// `--ice-ip` values when given, else every interface address.
pub fn ice_addresses(configured: &[IpAddr]) -> Vec<IpAddr> {
    if configured.is_empty() {
        host_addresses()
    } else {
        configured.to_vec()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_loopback_in_host_addresses() {
        assert!(super::host_addresses().iter().all(|ip| !ip.is_loopback()));
        let given = ["127.0.0.1".parse().unwrap()];
        assert_eq!(super::ice_addresses(&given), given.to_vec());
    }
}
