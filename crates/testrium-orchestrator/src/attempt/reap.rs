//! Exits and launchers: reaping the units' main processes, and watching the trees of launchers
//! whose main process is gone, for the scheduler.

use std::time::Instant;

use testrium_config::Launch;

use super::{IDLE_TICK, Supervisor, TREE_CHECK_MAX};
use crate::process::{self, Exit};

/// A unit's main process exited, or a launcher's tree is gone.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ended {
    Exited(usize, Exit),
    TreeGone(usize),
}

impl Supervisor<'_> {
    /// Reaps exited unit processes and looks at the trees of launchers. What ended is told to
    /// the scheduler by [`Supervisor::apply_ended`], after the events recorded before it were
    /// read (a unit records its last probe, then exits).
    pub(super) fn reap(&mut self) -> Vec<Ended> {
        let now = Instant::now();
        let mut ended = Vec::new();
        for index in 0..self.procs.len() {
            let Some(process) = self.procs[index].process.as_mut() else {
                continue;
            };
            if process.exited().is_none() {
                let exit = match process.try_wait() {
                    Ok(Some(exit)) => exit,
                    Ok(None) => continue,
                    Err(_) => Exit::Lost,
                };
                ended.push(Ended::Exited(index, exit));
                continue;
            }
            if !self.sched.units[index].detached {
                self.procs[index].tree_check = None;
                continue;
            }
            let Some((at, pause)) = self.procs[index].tree_check else {
                continue;
            };
            if now < at {
                continue;
            }
            if self.tree_alive(index) {
                let pause = (pause * 2).min(TREE_CHECK_MAX);
                self.procs[index].tree_check = Some((now + pause, pause));
            } else {
                self.procs[index].tree_check = None;
                ended.push(Ended::TreeGone(index));
            }
        }
        ended
    }

    /// Tells the scheduler what [`Supervisor::reap`] found.
    pub(super) fn apply_ended(&mut self, ended: Vec<Ended>) {
        let now = Instant::now();
        for end in ended {
            match end {
                Ended::Exited(index, exit) => {
                    if let Some(message) = self.spawn_failure_report(index, exit) {
                        self.sched.start_failed(index, exit, message, now);
                        continue;
                    }
                    // Only a unit that could be a launcher costs a look at its tree.
                    let tree_alive = self.sched.may_detach(index, exit) && self.tree_alive(index);
                    self.sched.exited(index, exit, tree_alive, now);
                }
                Ended::TreeGone(index) => self.sched.tree_gone(index, now),
            }
        }
    }

    pub(super) fn next_tree_check(&self) -> Instant {
        self.procs
            .iter()
            .filter_map(|p| p.tree_check.map(|(at, _)| at))
            .min()
            .unwrap_or_else(|| Instant::now() + IDLE_TICK)
    }

    /// The tree of the unit at `index` (see [`process::UnitTree`]), once it was started.
    pub(super) fn tree(&self, index: usize) -> Option<process::UnitTree<'_>> {
        self.procs[index]
            .process
            .as_ref()
            .map(|p| process::UnitTree {
                pgid: p.pid(),
                marker: &self.marker,
                unit: self.name(index),
            })
    }

    /// Whether the unit at `index` may still record probes: a process of its tree is alive,
    /// or the attempt's cgroup holds a live process no unit's tree claims.
    pub(super) fn tree_alive(&self, index: usize) -> bool {
        self.tree(index)
            .is_some_and(|tree| !tree.live().is_empty() || self.unclaimed_in_cgroup())
    }

    /// Whether the attempt's cgroup holds a live process that is in no started unit's process
    /// group and carries no unit's marker. That is a daemon that left its launcher's process
    /// group *and* overwrote its environment with its process title (`redis-server
    /// --daemonize yes`, PostgreSQL, nginx: setproctitle). Which launcher started it cannot be
    /// told, so it keeps every waiting launcher alive: one whose service really died then
    /// fails at its `ready_timeout` / the group timeout instead of at once, never the other
    /// way round (a live service judged `exited_before_ready`).
    fn unclaimed_in_cgroup(&self) -> bool {
        let Some(cgroup) = &self.cgroup else {
            return false;
        };
        let own = std::process::id();
        // The fork server is the runner's, no unit's.
        let server = self.fork_server_pid();
        let mut unclaimed: Vec<u32> = cgroup
            .members()
            .into_iter()
            .filter(|&pid| pid != own && Some(pid) != server && process::is_running(pid))
            .collect();
        if unclaimed.is_empty() {
            return false;
        }
        for index in 0..self.procs.len() {
            if let Some(tree) = self.tree(index) {
                let live = tree.live();
                unclaimed.retain(|pid| !live.contains(pid));
                if unclaimed.is_empty() {
                    return false;
                }
            }
        }
        true
    }

    /// What an entrypoint unit that exited 1 wrote to `spawn-failed/<unit>` in the run
    /// directory (its module or function does not exist), taken once.
    fn spawn_failure_report(&self, index: usize, exit: Exit) -> Option<String> {
        let unit = &self.sched.units[index].unit;
        if exit != Exit::Code(1) || !matches!(unit.launch, Launch::Entrypoint { .. }) {
            return None;
        }
        let path = self.dir.path.join("spawn-failed").join(&unit.name);
        let message = std::fs::read_to_string(&path).ok()?;
        // A restart must not find it again.
        let _ = std::fs::remove_file(&path);
        Some(message)
    }
}
