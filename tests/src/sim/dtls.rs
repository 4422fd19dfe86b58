//! Reproducible DTLS for the simulation. str0m's default DTLS (dimpl) draws OS randomness for its
//! retransmission timers and handshake values, so two runs with the same seed drifted apart by a
//! few milliseconds. This provider seeds every dimpl instance from the thread's `fastrand`, which
//! the recorder's sessions and the fake publishers seed from the simulation seed right before
//! building each `Rtc`, and gives every `Rtc` one certificate per process (generated certificates
//! differ in length). Test-only: production keeps str0m's default provider.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};
use str0m::crypto::{CryptoError, CryptoProvider};

/// Installs the seeded provider as str0m's process default. str0m keeps the first default
/// installed and ignores later ones, so this must run before the first `Rtc` is built.
pub fn install() {
    CryptoProvider {
        dtls_provider: &SeededDtls,
        ..str0m_aws_lc_rs::default_provider()
    }
    .install_process_default();
}

#[derive(Debug)]
struct SeededDtls;

impl DtlsProvider for SeededDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        static CERT: OnceLock<Option<DtlsCert>> = OnceLock::new();
        CERT.get_or_init(|| {
            str0m_aws_lc_rs::default_provider()
                .dtls_provider
                .generate_certificate()
        })
        .clone()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        // Same settings as str0m's aws-lc-rs provider, plus the seed.
        let mut builder = dimpl::Config::builder()
            .use_server_cookie(false)
            .with_crypto_provider(str0m_aws_lc_rs::dimpl_crypto_provider())
            .dangerously_set_rng_seed(fastrand::u64(..));
        if let Some(mtu) = mtu {
            builder = builder.mtu(mtu);
        }
        let config = Arc::new(
            builder
                .build()
                .map_err(|e| CryptoError::Other(format!("dimpl config: {e}")))?,
        );
        let cert = cert.clone();
        let dtls = match version {
            DtlsVersion::Dtls12 => dimpl::Dtls::new_12(config, cert, now),
            DtlsVersion::Dtls13 => dimpl::Dtls::new_13(config, cert, now),
            DtlsVersion::Auto => dimpl::Dtls::new_auto(config, cert, now),
            other => return Err(CryptoError::Other(format!("unsupported DTLS {other}"))),
        };
        Ok(Box::new(SeededInstance(dtls)))
    }
}

struct SeededInstance(dimpl::Dtls);

impl std::fmt::Debug for SeededInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeededInstance")
    }
}

impl DtlsInstance for SeededInstance {
    fn set_active(&mut self, active: bool) {
        self.0.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.0.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        self.0.poll_output(buf)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.0.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.0.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.0.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.0.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.0.close()
    }
}
