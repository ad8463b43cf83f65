//! Released contract versions are never edited: each `wit/<version>/` folder's digest is
//! recorded in `wit/FROZEN`, and this test fails when the folder changes. A change to the
//! contract is a new version folder.

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};
    use std::path::Path;

    fn folder_digest(dir: &Path) -> String {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        let mut hasher = Sha256::new();
        for name in names {
            hasher.update(name.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(std::fs::read(dir.join(&name)).unwrap());
            hasher.update([0]);
        }
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }

    #[test]
    fn released_contract_versions_are_unchanged() {
        let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let frozen = std::fs::read_to_string(wit.join("FROZEN")).unwrap();
        let mut checked = 0;
        for line in frozen
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (version, digest) = line.split_once(' ').unwrap();
            let actual = folder_digest(&wit.join(version));
            assert_eq!(
                actual,
                digest.trim(),
                "wit/{version} changed; released contracts are frozen: add a new version folder instead"
            );
            checked += 1;
        }
        assert!(checked >= 1);
    }

    #[test]
    #[ignore = "prints the digest line for a new version folder"]
    fn print_digest() {
        let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        for version in ["1.0.0", "1.1.0", "1.2.0"] {
            println!("{version} {}", folder_digest(&wit.join(version)));
        }
    }
}
