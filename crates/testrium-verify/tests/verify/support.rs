//! Small constructors for events.

use testrium_events::{Event, EventType};

pub fn send(id: i64, unit: &str, step: &str, key: &str, time: f64) -> Event {
    Event::new(id, unit, step, EventType::Send, time).with_key(key)
}

pub fn recv(id: i64, unit: &str, step: &str, key: &str, time: f64) -> Event {
    Event::new(id, unit, step, EventType::Receive, time).with_key(key)
}

pub fn default(id: i64, unit: &str, step: &str, time: f64) -> Event {
    Event::new(id, unit, step, EventType::Default, time)
}
