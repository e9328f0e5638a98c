//! The checks: the index's signature, sha256, the `.sha` file, the platform, the ELF header.

use minisign_verify::{PublicKey, Signature};
use sha2::{Digest, Sha256};

use crate::index::Index;
use crate::names::shown;
use crate::{Result, refuse};

/// This machine's platform as registries name it: `<os>_<arch>` (`linux_x86_64`).
pub fn platform() -> String {
    format!("{}_{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The trusted key from `mod.trusted-key`: a minisign public key (the base64 line, or the
/// whole `.pub` file's text) or the path of a `.pub` file.
pub fn trusted_key(setting: &str) -> Result<PublicKey> {
    let setting = setting.trim();
    if setting.is_empty() {
        refuse!("mod.trusted-key is not set: no registry can be trusted");
    }
    if let Ok(key) = key_from_text(setting) {
        return Ok(key);
    }
    let text = match read_key_file(setting) {
        Ok(text) => text,
        Err(e) => refuse!(
            "mod.trusted-key is neither a minisign public key nor a readable key file ('{}': {e})",
            shown(setting)
        ),
    };
    key_from_text(&text).map_err(|_| {
        crate::Error(format!(
            "the file '{}' holds no minisign public key",
            shown(setting)
        ))
    })
}

/// A key file's text: a regular file (not a pipe or device, which could block or never end)
/// of at most 4 KiB (a minisign public key file is about 100 bytes).
fn read_key_file(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.take(4096).read_to_string(&mut text)?;
    Ok(text)
}

fn key_from_text(text: &str) -> std::result::Result<PublicKey, minisign_verify::Error> {
    let text = text.trim();
    if text.contains('\n') {
        PublicKey::decode(text)
    } else {
        PublicKey::from_base64(text)
    }
}

/// Checks `index` against its signature (the `.minisig` text; `None` when the registry has
/// none) with `key`, then parses it.
pub fn signed_index(index: &[u8], signature: Option<&[u8]>, key: &PublicKey) -> Result<Index> {
    let Some(signature) = signature else {
        refuse!("registry index has no signature (index.json.minisig is missing)");
    };
    let signature = std::str::from_utf8(signature)
        .ok()
        .and_then(|text| Signature::decode(text).ok())
        .ok_or_else(|| crate::Error::new("registry index signature is not a minisign signature"))?;
    match key.verify(index, &signature, false) {
        Ok(()) => Index::parse(index),
        Err(minisign_verify::Error::UnexpectedKeyId) => {
            refuse!("registry index is signed by another key than mod.trusted-key (untrusted key)")
        }
        Err(_) => refuse!(
            "registry index signature is invalid (the index was changed or the signature is bad)"
        ),
    }
}

/// The sha256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An incremental sha256.
#[derive(Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest in lower-case hex.
    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

/// The hash a `.sha` file holds: its first word (`sha256sum` output works), 64 hex digits.
pub fn parse_sha_file(text: &[u8]) -> Result<String> {
    let word = std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.split_whitespace().next())
        .unwrap_or("");
    if word.len() != 64 || !word.bytes().all(|b| b.is_ascii_hexdigit()) {
        refuse!("the .sha file does not hold a sha256 (64 hex digits)");
    }
    Ok(word.to_ascii_lowercase())
}

/// How many leading bytes [`check_elf`] needs.
pub const ELF_HEADER_LEN: usize = 20;

/// Checks that `header` (the file's first bytes) starts an ELF shared object for this machine:
/// word size, byte order and machine as this process has them.
pub fn check_elf(header: &[u8]) -> Result<()> {
    if header.len() < ELF_HEADER_LEN || &header[..4] != b"\x7fELF" {
        refuse!("the artifact is not an ELF file, so not a shared object this server can load");
    }
    let class = if cfg!(target_pointer_width = "64") {
        2
    } else {
        1
    };
    let data = if cfg!(target_endian = "little") { 1 } else { 2 };
    if header[4] != class || header[5] != data {
        refuse!("the artifact is an ELF file for another machine (word size or byte order)");
    }
    let read16 = |at: usize| {
        let bytes = [header[at], header[at + 1]];
        if data == 1 {
            u16::from_le_bytes(bytes)
        } else {
            u16::from_be_bytes(bytes)
        }
    };
    const ET_DYN: u16 = 3;
    if read16(16) != ET_DYN {
        refuse!(
            "the artifact is an ELF file but not a shared object (e_type {})",
            read16(16)
        );
    }
    let machine = read16(18);
    if Some(machine) != this_machine() {
        refuse!(
            "the artifact is a shared object for another machine (ELF machine {machine}, this is {})",
            std::env::consts::ARCH
        );
    }
    Ok(())
}

/// This machine's ELF `e_machine`.
fn this_machine() -> Option<u16> {
    Some(match std::env::consts::ARCH {
        "x86_64" => 62,
        "x86" => 3,
        "aarch64" => 183,
        "arm" => 40,
        "riscv64" => 243,
        "powerpc64" => 21,
        "s390x" => 22,
        "loongarch64" => 258,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(e_type: u16, machine: u16) -> Vec<u8> {
        let mut header = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
        header.extend(e_type.to_le_bytes());
        header.extend(machine.to_le_bytes());
        header
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn elf_headers_are_checked() {
        assert!(check_elf(&elf(3, 62)).is_ok());
        assert!(
            check_elf(&elf(2, 62))
                .unwrap_err()
                .0
                .contains("not a shared object")
        );
        assert!(
            check_elf(&elf(3, 183))
                .unwrap_err()
                .0
                .contains("another machine")
        );
        assert!(check_elf(b"#!/bin/sh\necho hello there\n").is_err());
        assert!(check_elf(b"\x7fELF").is_err());
    }

    #[test]
    fn sha_files() {
        let sha = sha256_hex(b"abc");
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            parse_sha_file(format!("{sha}  m.so\n").as_bytes()).unwrap(),
            sha
        );
        assert!(parse_sha_file(b"nope").is_err());
    }
}
