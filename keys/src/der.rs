//! The few DER encoding and decoding steps a CSR and a PKCS#8 unwrap need.
//!
//! Building the CSR by hand keeps the signature `AlgorithmIdentifier` under our control
//! (RSASSA-PSS parameters in particular) and copies the subject name byte for byte.

use zeroize::Zeroizing;

pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_NULL: u8 = 0x05;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;

/// Context-specific, constructed tag `[number]`.
pub(crate) const fn context_tag(number: u8) -> u8 {
    0xa0 | number
}

/// Appends a DER length (definite form) to `out`.
fn push_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        out.push(length as u8);
        return;
    }
    let bytes = length.to_be_bytes();
    let skip = bytes.iter().take_while(|byte| **byte == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Encodes one tag-length-value element.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// Encodes a constructed element whose content is the concatenation of `parts`.
pub(crate) fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    constructed(TAG_SEQUENCE, parts)
}

/// Encodes a non-negative INTEGER that fits in a `u64`.
pub(crate) fn small_integer(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes
        .iter()
        .take_while(|byte| **byte == 0)
        .count()
        .min(bytes.len() - 1);
    let mut content = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&bytes[skip..]);
    tlv(TAG_INTEGER, &content)
}

/// Encodes an OBJECT IDENTIFIER from its arcs (at least two).
pub(crate) fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::with_capacity(arcs.len() * 2);
    push_base128(&mut content, arcs[0] * 40 + arcs[1]);
    for arc in &arcs[2..] {
        push_base128(&mut content, *arc);
    }
    tlv(TAG_OID, &content)
}

fn push_base128(out: &mut Vec<u8>, value: u32) {
    let mut groups = [0u8; 5];
    let mut count = 0;
    let mut rest = value;
    loop {
        groups[count] = (rest & 0x7f) as u8;
        count += 1;
        rest >>= 7;
        if rest == 0 {
            break;
        }
    }
    for index in (0..count).rev() {
        let continuation = if index == 0 { 0 } else { 0x80 };
        out.push(groups[index] | continuation);
    }
}

/// Encodes a non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(magnitude.len());
    let significant = &magnitude[start..];
    let mut content = Vec::with_capacity(significant.len() + 1);
    if significant.first().is_none_or(|byte| byte & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(significant);
    tlv(TAG_INTEGER, &content)
}

pub(crate) fn null() -> Vec<u8> {
    vec![TAG_NULL, 0]
}

/// Encodes a BIT STRING with no unused bits.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0);
    content.extend_from_slice(bytes);
    tlv(TAG_BIT_STRING, &content)
}

/// One decoded element: its tag and its content.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

/// Malformed or unexpected DER; carries no input bytes, so it is safe for secret input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DerError;

/// Reads one element from the front of `input` and returns it with the bytes after it.
/// Accepts only single-byte tags and definite lengths in minimal form, as DER requires.
pub(crate) fn read_element(input: &[u8]) -> Result<(Element<'_>, &[u8]), DerError> {
    let (&tag, after_tag) = input.split_first().ok_or(DerError)?;
    if tag & 0x1f == 0x1f {
        return Err(DerError);
    }
    let (&first, after_first) = after_tag.split_first().ok_or(DerError)?;
    let (length, after_length) = if first < 0x80 {
        (usize::from(first), after_first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > std::mem::size_of::<usize>() || after_first.len() < count {
            return Err(DerError);
        }
        let (length_bytes, rest) = after_first.split_at(count);
        if length_bytes[0] == 0 {
            return Err(DerError);
        }
        let length = length_bytes
            .iter()
            .fold(0usize, |total, byte| (total << 8) | usize::from(*byte));
        if length < 0x80 {
            return Err(DerError);
        }
        (length, rest)
    };
    if after_length.len() < length {
        return Err(DerError);
    }
    let element = Element {
        tag,
        content: &after_length[..length],
    };
    Ok((element, &after_length[length..]))
}

/// Reads exactly one element with tag `tag` that spans all of `input`.
pub(crate) fn read_single(input: &[u8], tag: u8) -> Result<Element<'_>, DerError> {
    let (element, rest) = read_element(input)?;
    if element.tag != tag || !rest.is_empty() {
        return Err(DerError);
    }
    Ok(element)
}

/// Reads one element with tag `tag` from the front of `input`.
pub(crate) fn read_expected(input: &[u8], tag: u8) -> Result<(Element<'_>, &[u8]), DerError> {
    let (element, rest) = read_element(input)?;
    if element.tag != tag {
        return Err(DerError);
    }
    Ok((element, rest))
}

/// Returns the `privateKey` OCTET STRING content of a PKCS#8 `PrivateKeyInfo` (RFC 5208),
/// copied into a buffer that is zeroized on drop.
pub(crate) fn pkcs8_private_key(pkcs8: &[u8]) -> Result<Zeroizing<Vec<u8>>, DerError> {
    let info = read_single(pkcs8, TAG_SEQUENCE)?;
    let (_version, rest) = read_expected(info.content, TAG_INTEGER)?;
    let (_algorithm, rest) = read_expected(rest, TAG_SEQUENCE)?;
    let (private_key, _attributes) = read_expected(rest, TAG_OCTET_STRING)?;
    Ok(Zeroizing::new(private_key.content.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_encodes_known_values() {
        // sha256WithRSAEncryption, 1.2.840.113549.1.1.11
        assert_eq!(
            oid(&[1, 2, 840, 113549, 1, 1, 11]),
            [
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b
            ]
        );
        // id-sha512, 2.16.840.1.101.3.4.2.3
        assert_eq!(
            oid(&[2, 16, 840, 1, 101, 3, 4, 2, 3]),
            [
                0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03
            ]
        );
    }

    #[test]
    fn lengths_use_minimal_long_form() {
        assert_eq!(tlv(0x04, &[0; 0x7f])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[0; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[0; 0x1234])[..4], [0x04, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn small_integers_are_minimal_and_positive() {
        assert_eq!(small_integer(0), [0x02, 0x01, 0x00]);
        assert_eq!(small_integer(32), [0x02, 0x01, 0x20]);
        assert_eq!(small_integer(0x80), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(small_integer(0x0100), [0x02, 0x02, 0x01, 0x00]);
    }

    #[test]
    fn unsigned_integers_strip_zeros_and_keep_sign() {
        assert_eq!(unsigned_integer(&[0, 0, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(
            unsigned_integer(&[0, 0xff, 0x01]),
            [0x02, 0x03, 0x00, 0xff, 0x01]
        );
        assert_eq!(unsigned_integer(&[0, 0]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn reader_round_trips_writer() {
        let long = tlv(TAG_OCTET_STRING, &[7; 300]);
        let encoded = sequence(&[&small_integer(5), &long]);
        let outer = read_single(&encoded, TAG_SEQUENCE).unwrap();
        let (integer, rest) = read_expected(outer.content, TAG_INTEGER).unwrap();
        assert_eq!(integer.content, [5]);
        let (octets, rest) = read_expected(rest, TAG_OCTET_STRING).unwrap();
        assert_eq!(octets.content.len(), 300);
        assert_eq!(octets.content, [7; 300]);
        assert!(rest.is_empty());
    }

    #[test]
    fn reader_rejects_malformed_input() {
        assert_eq!(read_element(&[]).unwrap_err(), DerError);
        assert_eq!(read_element(&[0x30]).unwrap_err(), DerError);
        // Content shorter than the encoded length.
        assert_eq!(read_element(&[0x30, 0x03, 0x00]).unwrap_err(), DerError);
        // Indefinite length (BER only).
        assert_eq!(
            read_element(&[0x30, 0x80, 0x00, 0x00]).unwrap_err(),
            DerError
        );
        // Long form used for a length below 128.
        assert_eq!(
            read_element(&[0x04, 0x81, 0x01, 0x00]).unwrap_err(),
            DerError
        );
        // Trailing bytes after a single element.
        assert_eq!(
            read_single(&[0x05, 0x00, 0x00], TAG_NULL).unwrap_err(),
            DerError
        );
        // Wrong tag.
        assert_eq!(
            read_single(&[0x05, 0x00], TAG_SEQUENCE).unwrap_err(),
            DerError
        );
    }

    #[test]
    fn pkcs8_private_key_extracts_octet_string() {
        let info = sequence(&[
            &small_integer(0),
            &sequence(&[&oid(&[1, 2, 840, 113549, 1, 1, 1]), &null()]),
            &tlv(TAG_OCTET_STRING, b"inner"),
        ]);
        assert_eq!(pkcs8_private_key(&info).unwrap().as_slice(), b"inner");
        assert!(pkcs8_private_key(&info[..info.len() - 1]).is_err());
    }
}
