//! The one containment type: a folder reached through a handle (`cap_std::fs::Dir`), never by
//! re-resolving path strings. Every path given to it stays inside (no `..` out, no absolute
//! paths, no symlink leading out), files it reads are regular files opened without following a
//! final link and without blocking on a FIFO, and files it writes replace the name atomically
//! (a planted link at that name is replaced, never followed). Host code that touches a folder a
//! driver can write goes through here.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt, Permissions, PermissionsExt};

#[derive(Debug, thiserror::Error)]
pub enum InsideError {
    #[error("{path:?}: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("{shown}: is a link; lo does not follow links here (replace it with a regular file)")]
    Link { shown: String },
    #[error(
        "{shown}: is not a regular file (a FIFO, device or socket); lo opens only regular files"
    )]
    NotRegular { shown: String },
    #[error("{shown}: larger than {max} bytes")]
    TooLarge { shown: String, max: u64 },
    #[error("{shown}: {source}")]
    Io {
        shown: String,
        #[source]
        source: std::io::Error,
    },
}

impl InsideError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, InsideError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// What a name in a folder is, seen without following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    File,
    Dir,
    Link,
    /// A FIFO, device or socket.
    Special,
}

/// A folder and everything below it.
#[derive(Debug)]
pub struct Inside {
    dir: Dir,
    /// The host path it was opened at, for messages only (never re-resolved).
    shown: PathBuf,
}

/// Checks a relative path's text: not empty, not absolute, no `..`, no NUL.
pub fn relative(path: &str) -> Result<&Path, InsideError> {
    let bad = |why| InsideError::BadPath {
        path: path.to_string(),
        why,
    };
    if path.is_empty() {
        return Err(bad("is empty"));
    }
    if path.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    let p = Path::new(path);
    if p.is_absolute() {
        return Err(bad("is absolute; give a path relative to the folder"));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(bad("climbs out with '..'"));
    }
    Ok(p)
}

impl Inside {
    /// Opens a folder the host chose (the project root, a cache): the one ambient step.
    pub fn open(path: &Path) -> Result<Inside, InsideError> {
        let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(|e| {
            InsideError::Io {
                shown: path.display().to_string(),
                source: e,
            }
        })?;
        Ok(Inside {
            dir,
            shown: path.to_path_buf(),
        })
    }

    /// Another handle on the same folder.
    pub fn try_clone(&self) -> Result<Inside, InsideError> {
        Ok(Inside {
            dir: self.dir.try_clone().map_err(self.io(Path::new(".")))?,
            shown: self.shown.clone(),
        })
    }

    /// The folder itself opened for reading (for flock, which a path-only handle cannot
    /// take); the same folder, never looked up by path again.
    pub fn reopen(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::{AsRawFd as _, FromRawFd as _};
        // SAFETY: openat on a descriptor this Inside owns with a static C string; the
        // returned descriptor is owned by the OwnedFd at once.
        let fd = unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                c".".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nothing else owns.
        Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
    }

    pub fn shown(&self) -> &Path {
        &self.shown
    }

    fn show(&self, rel: &Path) -> String {
        self.shown.join(rel).display().to_string()
    }

    fn io(&self, rel: &Path) -> impl Fn(std::io::Error) -> InsideError + '_ {
        let shown = self.show(rel);
        move |e| InsideError::Io {
            shown: shown.clone(),
            source: e,
        }
    }

    /// A subfolder, which must be a real folder (not a link), created when `create` is set.
    pub fn subdir(&self, rel: &str, create: bool) -> Result<Inside, InsideError> {
        let rel = relative(rel)?;
        let mut dir = self.dir.try_clone().map_err(self.io(Path::new(".")))?;
        let mut shown = self.shown.clone();
        for part in rel.components() {
            let Component::Normal(name) = part else {
                continue;
            };
            shown.push(name);
            if create {
                match dir.create_dir(name) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(InsideError::Io {
                            shown: shown.display().to_string(),
                            source: e,
                        });
                    }
                }
            }
            let meta = dir.symlink_metadata(name).map_err(|e| InsideError::Io {
                shown: shown.display().to_string(),
                source: e,
            })?;
            if meta.file_type().is_symlink() {
                return Err(InsideError::Link {
                    shown: shown.display().to_string(),
                });
            }
            dir = dir.open_dir_nofollow(name).map_err(|e| InsideError::Io {
                shown: shown.display().to_string(),
                source: e,
            })?;
        }
        Ok(Inside { dir, shown })
    }

    /// What is at `rel` without following a link there: None when nothing is.
    pub fn kind(&self, rel: &str) -> Result<Option<Entry>, InsideError> {
        let rel = relative(rel)?;
        match self.dir.symlink_metadata(rel) {
            Ok(m) => Ok(Some(if m.file_type().is_symlink() {
                Entry::Link
            } else if m.is_dir() {
                Entry::Dir
            } else if m.is_file() {
                Entry::File
            } else {
                Entry::Special
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(rel)(e)),
        }
    }

    /// Reads a regular file of at most `max` bytes. A link, FIFO, device or socket is refused
    /// before and after opening (opened non-blocking, so a FIFO cannot stall the host).
    pub fn read(&self, rel: &str, max: u64) -> Result<Vec<u8>, InsideError> {
        let rel = relative(rel)?;
        let shown = self.show(rel);
        let meta = self.dir.symlink_metadata(rel).map_err(self.io(rel))?;
        if meta.file_type().is_symlink() {
            return Err(InsideError::Link { shown });
        }
        if !meta.is_file() {
            return Err(InsideError::NotRegular { shown });
        }
        let mut options = OpenOptions::new();
        options
            .read(true)
            .follow(FollowSymlinks::No)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
        let file = self.dir.open_with(rel, &options).map_err(self.io(rel))?;
        let meta = file.metadata().map_err(self.io(rel))?;
        if !meta.is_file() {
            return Err(InsideError::NotRegular { shown });
        }
        if meta.len() > max {
            return Err(InsideError::TooLarge { shown, max });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(self.io(rel))?;
        if bytes.len() as u64 > max {
            return Err(InsideError::TooLarge { shown, max });
        }
        Ok(bytes)
    }

    /// Writes `bytes` to `rel` with `mode`: a new file beside it, then renamed over the name, so
    /// readers never see half a file and a link at that name is replaced, not followed.
    pub fn write(&self, rel: &str, bytes: &[u8], mode: u32) -> Result<(), InsideError> {
        let rel = relative(rel)?;
        let name = rel.file_name().ok_or_else(|| InsideError::BadPath {
            path: rel.display().to_string(),
            why: "names no file",
        })?;
        let parent = rel.parent().filter(|p| !p.as_os_str().is_empty());
        let dir = match parent {
            Some(p) => self.dir.open_dir(p).map_err(self.io(p))?,
            None => self.dir.try_clone().map_err(self.io(Path::new(".")))?,
        };
        let temp = format!(".{}.lo-{}.tmp", name.to_string_lossy(), std::process::id());
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .follow(FollowSymlinks::No)
            .mode(mode);
        let _ = dir.remove_file(&temp);
        let mut file = dir.open_with(&temp, &options).map_err(self.io(rel))?;
        let written = file
            .write_all(bytes)
            .and_then(|()| file.set_permissions(Permissions::from_mode(mode)))
            .and_then(|()| file.sync_all());
        drop(file);
        if let Err(e) = written.and_then(|()| dir.rename(&temp, &dir, name)) {
            let _ = dir.remove_file(&temp);
            return Err(self.io(rel)(e));
        }
        Ok(())
    }

    /// Removes a file (or a link, never what it points at); false when there was none.
    pub fn remove(&self, rel: &str) -> Result<bool, InsideError> {
        let rel = relative(rel)?;
        match self.dir.remove_file(rel) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(rel)(e)),
        }
    }

    /// Removes a folder and everything in it, never following a link out of it; false when
    /// there was none.
    pub fn remove_tree(&self, rel: &str) -> Result<bool, InsideError> {
        let rel = relative(rel)?;
        match self.dir.remove_dir_all(rel) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(rel)(e)),
        }
    }

    /// Removes an empty folder; false when it is missing or not empty.
    pub fn remove_empty_dir(&self, rel: &str) -> bool {
        relative(rel).is_ok_and(|rel| self.dir.remove_dir(rel).is_ok())
    }
}

/// Whether two host paths overlap (one is the other or inside it), after resolving links.
pub fn overlaps(a: &Path, b: &Path) -> bool {
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (a, b) = (real(a), real(b));
    a.starts_with(&b) || b.starts_with(&a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, tempfile::TempDir, Inside) {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("sub/file"), "inside").unwrap();
        let inside = Inside::open(root.path()).unwrap();
        (root, outside, inside)
    }

    #[test]
    fn reads_regular_files_inside() {
        let (_r, _o, inside) = setup();
        assert_eq!(inside.read("sub/file", 100).unwrap(), b"inside");
        assert!(matches!(
            inside.read("sub/file", 3),
            Err(InsideError::TooLarge { .. })
        ));
        assert!(inside.read("sub/none", 100).unwrap_err().is_not_found());
    }

    #[test]
    fn dot_dot_absolute_and_nul_are_refused_by_their_text() {
        let (_r, _o, inside) = setup();
        for bad in ["../x", "sub/../../x", "/etc/passwd", "", "a\0b"] {
            assert!(
                matches!(inside.read(bad, 100), Err(InsideError::BadPath { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn links_are_never_followed_out() {
        let (root, outside, inside) = setup();
        symlink(outside.path().join("secret"), root.path().join("abs")).unwrap();
        symlink(
            "../../../../../../../../etc/passwd",
            root.path().join("rel"),
        )
        .unwrap();
        symlink(outside.path(), root.path().join("dir")).unwrap();
        assert!(matches!(
            inside.read("abs", 100),
            Err(InsideError::Link { .. })
        ));
        assert!(matches!(
            inside.read("rel", 100),
            Err(InsideError::Link { .. })
        ));
        // A link in the middle of the path that leads out is refused by the handle itself.
        assert!(inside.read("dir/secret", 100).is_err());
        assert!(matches!(
            inside.subdir("dir", false),
            Err(InsideError::Link { .. })
        ));
    }

    #[test]
    fn writes_replace_a_planted_link_instead_of_following_it() {
        let (root, outside, inside) = setup();
        symlink(outside.path().join("secret"), root.path().join("target")).unwrap();
        inside.write("target", b"new", 0o600).unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "outside"
        );
        let meta = std::fs::symlink_metadata(root.path().join("target")).unwrap();
        assert!(meta.is_file());
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(inside.remove("target").unwrap());
        assert!(!inside.remove("target").unwrap());
    }

    /// A driver's state folder, removed with a local cluster lo created, may hold links a
    /// driver planted: they go, what they point at stays, and a folder that is itself a link
    /// is never emptied through it.
    #[test]
    fn trees_are_removed_without_following_links() {
        let (root, outside, inside) = setup();
        let state = root.path().join("sub/.state");
        std::fs::create_dir_all(state.join("deep")).unwrap();
        std::fs::write(state.join("deep/f"), "x").unwrap();
        symlink(outside.path(), state.join("out-dir")).unwrap();
        symlink(outside.path().join("secret"), state.join("deep/out-file")).unwrap();
        assert!(inside.remove_tree("sub/.state").unwrap());
        assert!(!state.exists());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "outside"
        );
        assert!(!inside.remove_tree("sub/.state").unwrap(), "gone already");
        symlink(outside.path(), root.path().join("sub/linked")).unwrap();
        // Refused or the link alone removed: either way nothing outside is touched.
        let _ = inside.remove_tree("sub/linked");
        assert!(outside.path().join("secret").exists());
    }

    #[test]
    fn fifos_and_devices_are_not_opened() {
        let (root, _o, inside) = setup();
        let fifo = root.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        // Without a writer an open for reading would block forever; here it is refused at once.
        assert!(matches!(
            inside.read("fifo", 100),
            Err(InsideError::NotRegular { .. })
        ));
    }

    #[test]
    fn non_utf8_names_stay_inside() {
        use std::os::unix::ffi::OsStrExt;
        let (root, _o, _inside) = setup();
        let odd = std::ffi::OsStr::from_bytes(b"odd\xff");
        std::fs::write(root.path().join(odd), "x").unwrap();
        let inside = Inside::open(root.path()).unwrap();
        // Paths reach the type as text; a lossy name is simply not found, never resolved elsewhere.
        assert!(inside.read("odd\u{fffd}", 10).unwrap_err().is_not_found());
    }

    #[test]
    fn subdirs_are_created_without_following_links() {
        let (root, outside, inside) = setup();
        let made = inside.subdir("a/b", true).unwrap();
        made.write("f", b"x", 0o644).unwrap();
        assert!(root.path().join("a/b/f").is_file());
        symlink(outside.path(), root.path().join("c")).unwrap();
        assert!(matches!(
            inside.subdir("c/d", true),
            Err(InsideError::Link { .. })
        ));
        assert!(!outside.path().join("d").exists());
        assert!(overlaps(root.path(), &root.path().join("a")));
        assert!(!overlaps(root.path(), outside.path()));
    }
}
