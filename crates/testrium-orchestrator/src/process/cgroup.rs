//! An attempt's own cgroup (v2), where the runner may create one: every process started for
//! the attempt joins it before `exec`, and so does everything they start, whatever they do
//! with their process group, session or environment. Teardown kills the whole cgroup
//! (`cgroup.kill`), which also reaches what the marker sweep and the subreaper cannot: a
//! descendant that cleared its environment and only left its process group.
//!
//! Best effort: where no cgroup can be created (an unprivileged user outside a delegated
//! subtree, a read-only `/sys/fs/cgroup`, no cgroup v2), the attempt runs without one and the
//! other mechanisms apply alone.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::unix;

/// The cgroup of one attempt; removed on drop (after [`AttemptCgroup::kill_all`]).
#[derive(Debug)]
pub(crate) struct AttemptCgroup {
    path: PathBuf,
    /// `cgroup.procs`, open for writing: a child writes `0` to it to join.
    procs: File,
    /// The folder (`O_PATH`): a child is born in it with `clone3(CLONE_INTO_CGROUP)`.
    dir: File,
}

impl AttemptCgroup {
    /// Creates `testrium-<runner identity>-<n>` below this process's own cgroup v2, or `None`
    /// where that is not possible.
    pub(crate) fn create(identity: &str) -> Option<AttemptCgroup> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let own = own_cgroup_dir()?;
        let path = own.join(format!(
            "{PREFIX}{identity}-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&path).ok()?;
        let procs = OpenOptions::new()
            .write(true)
            .open(path.join("cgroup.procs"));
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_PATH | nix::libc::O_DIRECTORY)
            .open(&path);
        match (procs, dir) {
            (Ok(procs), Ok(dir)) => Some(AttemptCgroup { path, procs, dir }),
            _ => {
                let _ = fs::remove_dir(&path);
                None
            }
        }
    }

    /// The cgroup's folder.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor a child writes `0` to, between fork and exec, to join.
    pub(crate) fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }

    /// The folder, open (`O_PATH`), for `clone3(CLONE_INTO_CGROUP)`.
    pub(crate) fn dir_fd(&self) -> RawFd {
        self.dir.as_raw_fd()
    }

    /// Every process in the cgroup and below it (zombies not yet reaped included).
    pub(crate) fn members(&self) -> Vec<u32> {
        members(&self.path)
    }

    /// Kills every process in the cgroup (and its sub-cgroups) and waits until they are gone
    /// or `deadline` passes, reaping those that are children of this process. Returns how
    /// many were alive.
    pub(crate) fn kill_all(&self, deadline: Instant) -> usize {
        kill_all(&self.path, deadline)
    }
}

/// Names of attempt cgroups: `testrium-<runner identity>-<n>`.
const PREFIX: &str = "testrium-";

/// Kills what is left in the attempt cgroups below this process's own cgroup whose runner
/// `is_dead` (given the runner identity from the name) and removes them: leftovers of a
/// runner that was SIGKILLed before its watchdog could. Returns how many processes it killed.
pub(crate) fn sweep_stale(is_dead: impl Fn(&str) -> bool, deadline: Instant) -> usize {
    let Some(own) = own_cgroup_dir() else {
        return 0;
    };
    let Ok(entries) = fs::read_dir(&own) else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(identity) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|n| n.rsplit_once('-'))
            .map(|(identity, _)| identity)
        else {
            continue;
        };
        if is_dead(identity) {
            let path = entry.path();
            killed += kill_all(&path, deadline);
            remove_tree(&path);
        }
    }
    killed
}

fn members(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    collect_members(dir, &mut pids);
    pids
}

/// See [`AttemptCgroup::kill_all`].
fn kill_all(path: &Path, deadline: Instant) -> usize {
    let members = members(path);
    if members.is_empty() {
        return 0;
    }
    let killed_by_kernel = OpenOptions::new()
        .write(true)
        .open(path.join("cgroup.kill"))
        .and_then(|mut f| f.write_all(b"1"))
        .is_ok();
    loop {
        let alive = self::members(path);
        if alive.is_empty() || Instant::now() >= deadline {
            break;
        }
        if !killed_by_kernel {
            // Before Linux 5.14: one by one, again until none is left (one may fork).
            for &pid in &alive {
                unix::signal_process(pid, Signal::SIGKILL);
            }
        }
        for &pid in &alive {
            unix::reap_child(pid);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    for &pid in &members {
        unix::reap_child(pid);
    }
    members.len()
}

impl Drop for AttemptCgroup {
    fn drop(&mut self) {
        remove_tree(&self.path);
    }
}

/// Pids listed in `cgroup.procs` of `dir` and of every cgroup below it.
fn collect_members(dir: &Path, pids: &mut Vec<u32>) {
    if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_members(&entry.path(), pids);
            }
        }
    }
}

/// Removes a cgroup and the (empty) cgroups below it; a cgroup still in use stays.
fn remove_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

/// This process's cgroup v2 folder: the `cgroup2` mount from `/proc/self/mountinfo` joined
/// with the `0::` line of `/proc/self/cgroup`.
fn own_cgroup_dir() -> Option<PathBuf> {
    let cgroup = fs::read_to_string("/proc/self/cgroup").ok()?;
    let relative = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = cgroup2_mount(&mountinfo)?;
    let dir = mount.join(relative.trim_start_matches('/'));
    dir.is_dir().then_some(dir)
}

/// The mount point of the first `cgroup2` file system in a `mountinfo` text.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // `id parent major:minor root mount-point options … - fstype source super-options`
        let (fields, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mount_point = fields.split_whitespace().nth(4)?;
        Some(PathBuf::from(unescape_mount(mount_point)))
    })
}

/// Mount points escape space, tab, newline and backslash as octal (`\040`).
fn unescape_mount(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup2_mount_is_found_in_hybrid_and_unified_layouts() {
        let hybrid = "35 26 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
                      36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n\
                      37 35 0:32 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = "30 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(unified),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(cgroup2_mount("30 1 0:26 / /proc rw - proc proc rw\n"), None);
        let spaced = "30 1 0:26 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_mount(spaced), Some(PathBuf::from("/mnt/my cg")));
    }

    #[test]
    fn a_cgroup_holds_a_child_and_kills_it_with_its_descendants() {
        let Some(cgroup) = AttemptCgroup::create(&format!("{}.1.1", std::process::id())) else {
            eprintln!("skipped: no cgroup can be created here");
            return;
        };
        let path = cgroup.path().to_owned();
        assert!(path.is_dir());
        let mut command = std::process::Command::new("sh");
        // A grandchild in a new session with a cleared environment: still in the cgroup.
        command.args(["-c", "setsid env -i sleep 300 & exec sleep 300"]);
        unix::join_cgroup(&mut command, cgroup.procs_fd());
        let mut child = command.spawn().expect("spawn");
        let listed = |n: usize| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if cgroup.members().len() >= n {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            false
        };
        assert!(listed(2), "members: {:?}", cgroup.members());
        assert!(cgroup.members().contains(&child.id()));
        let killed = cgroup.kill_all(Instant::now() + Duration::from_secs(10));
        assert!(killed >= 2, "killed {killed}");
        assert!(cgroup.members().is_empty());
        let _ = child.wait();
        drop(cgroup);
        assert!(!path.exists(), "cgroup folder left: {path:?}");
    }

    #[test]
    fn stale_cgroups_of_dead_runners_are_killed_and_removed_live_ones_kept() {
        let dead = "99999999.5.7";
        let live = format!("{}.6.7", std::process::id());
        let (Some(stale), Some(kept)) = (AttemptCgroup::create(dead), AttemptCgroup::create(&live))
        else {
            eprintln!("skipped: no cgroup can be created here");
            return;
        };
        let mut command = std::process::Command::new("sleep");
        command.arg("300");
        unix::join_cgroup(&mut command, stale.procs_fd());
        #[expect(
            clippy::zombie_processes,
            reason = "reaped by sweep_stale, which reaps the children it kills"
        )]
        let child = command.spawn().expect("spawn");
        let (stale_path, kept_path) = (stale.path().to_owned(), kept.path().to_owned());
        // As if its runner had been SIGKILLed: nothing removes the folder on drop.
        std::mem::forget(stale);
        let killed = sweep_stale(
            |identity| identity == dead,
            Instant::now() + Duration::from_secs(10),
        );
        assert_eq!(killed, 1);
        // Killed and reaped (it was our child).
        assert!(!Path::new(&format!("/proc/{}", child.id())).exists());
        assert!(!stale_path.exists(), "stale cgroup left: {stale_path:?}");
        assert!(kept_path.is_dir());
        drop(kept);
        assert!(!kept_path.exists());
    }
}
