//! Hot-plug requests from the guest: a guest script prints
//! `dmabridge: qmp device_add driver=edu,id=hpedu,bus=hp0` (or `device_del
//! id=hpedu`) on its output port (`qmp` in guest/lib/ktap.sh), and the host
//! sends that command to QEMU's monitor (QMP) on a Unix socket, logging the
//! answer as a `qmp:` line. Only `device_del`, of the devices the hot-plug
//! machine has.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// What the guest prints before a request.
pub const MARKER: &str = "dmabridge: qmp ";

/// The devices a guest may have removed (`qemu::hotplug_devices`).
const REMOVABLE: &[&str] = &["hpedu", "hpnvme1", "hpnvme2"];

/// The QMP command for a console line, as JSON, if the line asks for one:
/// the marker starts the line (after the console's indentation).
pub fn request(line: &str) -> Option<Result<String, String>> {
    let rest = line.trim_start().strip_prefix(MARKER)?.trim();
    let (cmd, args) = rest.split_once(' ').unwrap_or((rest, ""));
    if cmd != "device_del" {
        return Some(Err(format!("refused: {cmd} is not device_del")));
    }
    match args.strip_prefix("id=") {
        Some(id) if REMOVABLE.contains(&id) => Some(Ok(format!(
            "{{\"execute\": \"device_del\", \"arguments\": {{\"id\": \"{id}\"}}}}"
        ))),
        _ => Some(Err(format!("refused: `{args}` names no removable device"))),
    }
}

/// Whether a line from the monitor is an asynchronous event rather than
/// the answer to a command.
fn is_event(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .is_some_and(|v| v.get("event").is_some())
}

/// A connection to QEMU's monitor, in command mode.
pub struct Monitor {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Monitor {
    /// Connects to the socket at `path` and leaves capabilities negotiation.
    pub fn connect(path: &Path) -> std::io::Result<Monitor> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut m = Monitor { stream, reader };
        // The greeting, then the handshake's answer.
        m.line()?;
        m.execute("{\"execute\": \"qmp_capabilities\"}")?;
        Ok(m)
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut l = String::new();
        if self.reader.read_line(&mut l)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(l.trim().to_string())
    }

    /// Sends one command; returns its answer (`return` or `error`), skipping
    /// the events in between.
    pub fn execute(&mut self, json: &str) -> std::io::Result<String> {
        writeln!(self.stream, "{json}")?;
        loop {
            let l = self.line()?;
            if !is_event(&l) {
                return Ok(l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(request("[ 1.0] something else"), None);
        assert_eq!(request("[ 1.0] dmabridge: qmp device_del id=hpedu"), None);
        assert_eq!(
            request("dmabridge: qmp device_del id=hpedu\r"),
            Some(Ok(
                "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"hpedu\"}}".into()
            ))
        );
        assert!(matches!(request("dmabridge: qmp quit"), Some(Err(_))));
        assert!(matches!(
            request("dmabridge: qmp device_add driver=edu"),
            Some(Err(_))
        ));
        assert!(matches!(
            request("    dmabridge: qmp device_del id=edu0"),
            Some(Err(_))
        ));
    }

    #[test]
    fn events_are_told_from_answers() {
        assert!(is_event(
            "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"DEVICE_DELETED\", \"data\": {}}"
        ));
        assert!(!is_event("{\"return\": {}}"));
        assert!(!is_event(
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}"
        ));
    }
}
