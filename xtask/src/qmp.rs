//! Hot-plug requests from the guest: a guest script prints
//! `dmabridge: qmp device_add driver=edu,id=hpedu,bus=hp0` (or `device_del
//! id=hpedu`) on the console (`qmp` in guest/lib/ktap.sh), and the host
//! sends that command to QEMU's monitor (QMP) on a Unix socket, logging the
//! answer as a `qmp:` line. Only these two commands, with plain values.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// What the guest prints before a request.
pub const MARKER: &str = "dmabridge: qmp ";

/// The QMP command for a console line, as JSON, if the line asks for one.
pub fn request(line: &str) -> Option<Result<String, String>> {
    let rest = line.split(MARKER).nth(1)?.trim();
    let (cmd, args) = rest.split_once(' ').unwrap_or((rest, ""));
    if cmd != "device_add" && cmd != "device_del" {
        return Some(Err(format!(
            "refused: {cmd} is not device_add or device_del"
        )));
    }
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
    };
    let mut fields = Vec::new();
    for kv in args.split(',') {
        match kv.split_once('=') {
            Some((k, v)) if plain(k) && plain(v) => fields.push(format!("\"{k}\": \"{v}\"")),
            _ => return Some(Err(format!("refused: bad argument `{kv}`"))),
        }
    }
    Some(Ok(format!(
        "{{\"execute\": \"{cmd}\", \"arguments\": {{{}}}}}",
        fields.join(", ")
    )))
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
            if !l.starts_with("{\"event\"") {
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
        assert_eq!(
            request("    dmabridge: qmp device_add driver=edu,id=hpedu,bus=hp0\r"),
            Some(Ok(
                "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"edu\", \
                     \"id\": \"hpedu\", \"bus\": \"hp0\"}}"
                    .into()
            ))
        );
        assert_eq!(
            request("dmabridge: qmp device_del id=hpedu"),
            Some(Ok(
                "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"hpedu\"}}".into()
            ))
        );
        assert!(matches!(request("dmabridge: qmp quit"), Some(Err(_))));
        assert!(matches!(
            request("dmabridge: qmp device_add driver=\"x\""),
            Some(Err(_))
        ));
    }
}
