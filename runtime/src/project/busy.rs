//! One `lo` at a time per domain: provision, bootstrap and destroy hold an exclusive flock on
//! the domain's folder itself (released when the process ends however it ends, and no lock
//! file is left in the project), so two runs cannot interleave their changes to one cluster.

use std::os::fd::{AsRawFd as _, OwnedFd};

use super::Project;

/// Held while a command changes a domain's cluster.
#[derive(Debug)]
pub struct DomainLock {
    _dir: OwnedFd,
}

impl DomainLock {
    pub fn acquire(project: &Project, domain: &str) -> anyhow::Result<DomainLock> {
        super::validate_domain(domain)?;
        let folder = project
            .inside()?
            .subdir(&format!("clusters/{domain}"), false)?;
        let dir = folder
            .reopen()
            .map_err(|e| anyhow::anyhow!("{}: {e}", folder.shown().display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        let locked = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            anyhow::bail!(
                "another lo is changing {domain} (it holds a lock on {}); wait for it to finish",
                folder.shown().display()
            );
        }
        Ok(DomainLock { _dir: dir })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clusters/a.dev")).unwrap();
        std::fs::create_dir_all(dir.path().join("clusters/b.dev")).unwrap();
        let project = Project::at(dir.path()).unwrap();
        let first = DomainLock::acquire(&project, "a.dev").unwrap();
        let err = DomainLock::acquire(&project, "a.dev")
            .unwrap_err()
            .to_string();
        assert!(err.contains("another lo is changing a.dev"), "{err}");
        assert!(DomainLock::acquire(&project, "b.dev").is_ok());
        drop(first);
        assert!(DomainLock::acquire(&project, "a.dev").is_ok());
    }
}
