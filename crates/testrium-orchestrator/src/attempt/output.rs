//! Passing unit output on to the observer (`--verbose`): read from the log files the units
//! write, never through a pipe.

use super::Supervisor;
use super::scheduler::SETUP_NAME;
use crate::event::RunEvent;
use crate::logs::LogTail;

impl Supervisor<'_> {
    pub(super) fn stream_output(&mut self, observer: &mut dyn FnMut(&RunEvent)) {
        for (procs, slot) in self.procs.iter_mut().zip(&self.sched.units) {
            if procs.process.is_none() {
                continue;
            }
            let tail = procs.tail.get_or_insert_with(|| LogTail::new(&procs.log));
            for line in tail.read_lines() {
                self.output_lines += 1;
                observer(&RunEvent::UnitOutput {
                    unit: slot.unit.name.clone(),
                    line,
                });
            }
        }
        if let Some(setup) = self.setup.as_mut() {
            for line in setup.read_lines() {
                observer(&RunEvent::UnitOutput {
                    unit: SETUP_NAME.to_owned(),
                    line,
                });
            }
        }
    }

    /// Passes on what the units wrote after the last turn, including a last line without a
    /// newline (bounded: a flood is cut at 64 reads per unit).
    pub(super) fn flush_output(&mut self, observer: &mut dyn FnMut(&RunEvent)) {
        for _ in 0..64 {
            let before = self.output_lines;
            self.stream_output(observer);
            if self.output_lines == before {
                break;
            }
        }
        for (procs, slot) in self.procs.iter_mut().zip(&self.sched.units) {
            let Some(tail) = procs.tail.as_mut() else {
                continue;
            };
            if let Some(line) = tail.rest() {
                observer(&RunEvent::UnitOutput {
                    unit: slot.unit.name.clone(),
                    line,
                });
            }
            let unread = tail.unread();
            if unread > 0 {
                observer(&RunEvent::UnitOutput {
                    unit: slot.unit.name.clone(),
                    line: format!(
                        "[{unread} bytes not shown, see logs/{}.log]",
                        slot.unit.name
                    ),
                });
            }
        }
    }
}
