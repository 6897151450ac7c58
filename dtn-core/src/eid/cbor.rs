//! CBOR form of EIDs (RFC 9171 4.2.5.1, RFC 9758 5).

use alloc::string::String;
use alloc::vec::Vec;

use super::{DtnEid, Eid, EidError, EidErrorKind, IpnEid, IpnEncoding, SCHEME_DTN, SCHEME_IPN};
use crate::cbor::{Major, Reader, writer};
use crate::parse_mode::{ParseMode, Relaxation, Relaxations};

impl Eid {
    /// Decodes one EID from `r`, recording any relaxation the mode allowed.
    pub fn decode(r: &mut Reader<'_>, mode: ParseMode, relaxed: &mut Relaxations) -> Result<Eid, EidError> {
        // Fast path for the common case `[2, [FQNN, service]]`.
        if r.remaining().starts_with(&[0x82, 0x02, 0x82]) {
            r.skip_bytes(3);
            return two_element_ipn(r).map(Eid::Ipn);
        }
        let start = r.position();
        let pair = EidError { kind: EidErrorKind::NotSchemeSspPair, offset: start };
        match r.array() {
            Ok(Some(2)) => {}
            Ok(_) => return Err(pair),
            Err(e) if matches!(e.kind, crate::cbor::CborErrorKind::WrongType { .. }) => return Err(pair),
            Err(e) => return Err(e.into()),
        }
        let scheme = r.uint().map_err(|e| match e.kind {
            crate::cbor::CborErrorKind::WrongType { .. } => pair,
            _ => e.into(),
        })?;
        match scheme {
            SCHEME_DTN => decode_dtn_ssp(r, mode, relaxed),
            SCHEME_IPN => decode_ipn_ssp(r).map(Eid::Ipn),
            _ => {
                let ssp_start = r.position();
                r.skip()?;
                let ssp = r.input().get(ssp_start..r.position()).unwrap_or(&[]);
                Ok(Eid::Unknown { scheme, ssp: Vec::from(ssp) })
            }
        }
    }

    /// Decodes an EID that must fill `bytes` exactly.
    pub fn from_cbor(bytes: &[u8], mode: ParseMode) -> Result<(Eid, Relaxations), EidError> {
        let mut r = Reader::with_strictness(bytes, mode.is_strict());
        let mut relaxed = Relaxations::default();
        let eid = Eid::decode(&mut r, mode, &mut relaxed)?;
        if !r.is_empty() {
            return Err(EidError { kind: EidErrorKind::NotSchemeSspPair, offset: r.position() });
        }
        if r.non_canonical_at().is_some() {
            relaxed.insert(Relaxation::NonCanonicalCbor);
        }
        Ok((eid, relaxed))
    }

    /// Appends the canonical CBOR form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        writer::array(out, 2);
        match self {
            Eid::Null => {
                writer::uint(out, SCHEME_DTN);
                writer::uint(out, 0);
            }
            Eid::Dtn(dtn) => {
                writer::uint(out, SCHEME_DTN);
                writer::text(out, &dtn.ssp);
            }
            Eid::Ipn(ipn) => {
                writer::uint(out, SCHEME_IPN);
                match ipn.encoding {
                    IpnEncoding::TwoElement => {
                        writer::array(out, 2);
                        writer::uint(out, ipn.fqnn());
                    }
                    IpnEncoding::ThreeElement => {
                        writer::array(out, 3);
                        writer::uint(out, u64::from(ipn.allocator));
                        writer::uint(out, u64::from(ipn.node));
                    }
                }
                writer::uint(out, u64::from(ipn.service));
            }
            Eid::Unknown { scheme, ssp } => {
                writer::uint(out, *scheme);
                out.extend_from_slice(ssp);
            }
        }
    }

    /// The canonical CBOR form as a new vector.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.encode(&mut out);
        out
    }
}

fn decode_dtn_ssp(r: &mut Reader<'_>, mode: ParseMode, relaxed: &mut Relaxations) -> Result<Eid, EidError> {
    let offset = r.position();
    let bad = EidError { kind: EidErrorKind::InvalidDtnSsp, offset };
    let mut peek = r.clone();
    let head = peek.head()?;
    match head.major {
        Major::Unsigned => match r.uint()? {
            0 => Ok(Eid::Null),
            _ => Err(bad),
        },
        Major::Text => {
            let ssp = r.text()?;
            if ssp == "none" {
                if mode.is_strict() {
                    return Err(bad);
                }
                relaxed.insert(Relaxation::DtnNoneAsText);
                return Ok(Eid::Null);
            }
            super::text::check_dtn_ssp(ssp, 0).map_err(|_| bad)?;
            Ok(Eid::Dtn(DtnEid { ssp: String::from(ssp) }))
        }
        _ => Err(bad),
    }
}

/// The two numbers of a 2-element ipn SSP: `FQNN` (allocator << 32 | node) and service.
fn two_element_ipn(r: &mut Reader<'_>) -> Result<IpnEid, EidError> {
    let mut component = || {
        let at = r.position();
        r.uint().map(|v| (v, at)).map_err(|e| match e.kind {
            crate::cbor::CborErrorKind::WrongType { .. } => {
                EidError { kind: EidErrorKind::IpnComponentNotUnsigned, offset: at }
            }
            _ => e.into(),
        })
    };
    let (fqnn, _) = component()?;
    let (service, at) = component()?;
    let service =
        u32::try_from(service).map_err(|_| EidError { kind: EidErrorKind::IpnComponentTooLarge, offset: at })?;
    Ok(IpnEid { allocator: (fqnn >> 32) as u32, node: fqnn as u32, service, encoding: IpnEncoding::TwoElement })
}

fn decode_ipn_ssp(r: &mut Reader<'_>) -> Result<IpnEid, EidError> {
    let offset = r.position();
    let count = EidError { kind: EidErrorKind::IpnElementCount, offset };
    let n = r.array().map_err(|e| match e.kind {
        crate::cbor::CborErrorKind::WrongType { .. } => count,
        _ => e.into(),
    })?;
    let component = |r: &mut Reader<'_>| -> Result<(u64, usize), EidError> {
        let at = r.position();
        let value = r.uint().map_err(|e| match e.kind {
            crate::cbor::CborErrorKind::WrongType { .. } => {
                EidError { kind: EidErrorKind::IpnComponentNotUnsigned, offset: at }
            }
            _ => e.into(),
        })?;
        Ok((value, at))
    };
    let small = |(value, offset): (u64, usize)| {
        u32::try_from(value).map_err(|_| EidError { kind: EidErrorKind::IpnComponentTooLarge, offset })
    };
    match n {
        Some(2) => {
            let (fqnn, _) = component(r)?;
            let service = small(component(r)?)?;
            Ok(IpnEid { allocator: (fqnn >> 32) as u32, node: fqnn as u32, service, encoding: IpnEncoding::TwoElement })
        }
        Some(3) => {
            let allocator = small(component(r)?)?;
            let node = small(component(r)?)?;
            let service = small(component(r)?)?;
            Ok(IpnEid { allocator, node, service, encoding: IpnEncoding::ThreeElement })
        }
        _ => Err(count),
    }
}
