//! A raw NDJSON reader of `GET /v1/event/stream`, shared by the in-process API tests
//! and the real-binary tests.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Lines of one event stream, read from a raw socket as any NDJSON client would.
pub struct Lines {
    reader: BufReader<TcpStream>,
    /// Lines of a chunk not returned yet (a chunk may carry several).
    pending: std::collections::VecDeque<String>,
    pub status: u16,
    pub headers: Vec<String>,
}

impl Lines {
    /// Opens `path` on `addr` (`token`: X-Nomad-Token) and reads the response head.
    pub async fn open(addr: &str, path: &str, token: Option<&str>) -> Lines {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let token = token
            .map(|t| format!("X-Nomad-Token: {t}\r\n"))
            .unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{token}\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut reader = BufReader::new(stream);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("head");
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            head.push(line);
        }
        let status = head[0]
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap();
        Lines {
            reader,
            pending: Default::default(),
            status,
            headers: head,
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        self.headers
            .iter()
            .find(|h| h.to_ascii_lowercase().starts_with(&prefix))
            .map(|h| h[prefix.len()..].to_string())
    }

    /// The next NDJSON line (chunked transfer encoding undone), `None` at the end.
    pub async fn next(&mut self) -> Option<Value> {
        if let Some(line) = self.pending.pop_front() {
            return Some(serde_json::from_str(&line).expect("a line is JSON"));
        }
        let read = async {
            let mut size = String::new();
            if self.reader.read_line(&mut size).await.ok()? == 0 {
                return None;
            }
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                return None;
            }
            let mut chunk = vec![0u8; size + 2];
            tokio::io::AsyncReadExt::read_exact(&mut self.reader, &mut chunk)
                .await
                .ok()?;
            let text = String::from_utf8(chunk[..size].to_vec()).ok()?;
            // Whole lines per chunk: the server never splits one.
            assert!(text.ends_with('\n'), "a chunk holds whole lines: {text:?}");
            Some(text)
        };
        let text = tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("a line within 20 s")?;
        self.pending.extend(text.lines().map(str::to_owned));
        let line = self.pending.pop_front()?;
        Some(serde_json::from_str(&line).expect("a line is JSON"))
    }

    /// Frames (heartbeats skipped) until one at `index` or later has been read.
    pub async fn until_index(&mut self, index: u64) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let line = self.next().await.expect("stream ended early");
            if line == json!({}) {
                continue;
            }
            let at = line["Index"].as_u64().unwrap_or_else(|| panic!("{line}"));
            frames.push(line);
            if at >= index {
                return frames;
            }
        }
    }
}
