//! The operator commands' HTTP client: where the agent is, which token to send, and
//! Nomad's way of reporting a failed request. Shared by every subcommand that talks to
//! a running agent (`rollout acl …`, `rollout deployment …`, `rollout job …`).
//!
//! Address: `--address`, else `ROLLOUT_ADDR`, else `NOMAD_ADDR`, else
//! `http://127.0.0.1:4646`; an address without a scheme (`127.0.0.1:4646`) means
//! http, as it does for Nomad. Token: `--token`, else `ROLLOUT_TOKEN`, else `NOMAD_TOKEN`;
//! sent as `X-Nomad-Token`. The token is never printed. A namespace, when set, is sent
//! as the `namespace` query parameter of every request.

use clap::Args;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

/// The default agent address (`rollout agent`'s default listener).
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

/// Flags every agent-facing command takes.
#[derive(Clone, Debug, Default, Args)]
pub struct ClientArgs {
    /// Address of the rollout agent [env: ROLLOUT_ADDR, NOMAD_ADDR; default http://127.0.0.1:4646]
    #[arg(long, value_name = "ADDR", global = true)]
    pub address: Option<String>,
    /// ACL token (secret ID) to send [env: ROLLOUT_TOKEN, NOMAD_TOKEN]
    #[arg(long, value_name = "SECRET", global = true)]
    pub token: Option<String>,
}

impl ClientArgs {
    /// Resolves flags and environment into a client.
    pub fn client(&self) -> Result<Client, ClientError> {
        let env = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        let address = self
            .address
            .clone()
            .or_else(|| env(&["ROLLOUT_ADDR", "NOMAD_ADDR"]))
            .unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
        let token = self
            .token
            .clone()
            .or_else(|| env(&["ROLLOUT_TOKEN", "NOMAD_TOKEN"]));
        Client::new(&address, token)
    }
}

/// How long a blocking query may wait on the server (`wait`); the HTTP timeout leaves
/// room for the server's jitter (up to 1/16) and the answer.
pub const BLOCKING_WAIT_SECS: u64 = 30;
/// How long an idle kept-alive connection is reused (below the agent's 10 s cut-off).
const POOL_IDLE_SECS: u64 = 5;
const HTTP_TIMEOUT_SECS: u64 = 60;

/// Why a request failed.
#[derive(Debug)]
pub enum ClientError {
    /// The agent could not be reached, or answered something unreadable.
    Transport(String),
    /// A non-200 answer, reported as Nomad's Go client does.
    Status { code: u16, body: String },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Transport(m) => f.write_str(m),
            ClientError::Status { code, body } => {
                let body = crate::output::one_line(body);
                write!(f, "Unexpected response code: {code} ({body})")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// A successful answer.
#[derive(Debug)]
pub struct Response {
    /// `X-Nomad-Index`, 0 when absent.
    pub index: u64,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Result<Value, ClientError> {
        serde_json::from_str(&self.body)
            .map_err(|e| ClientError::Transport(format!("unreadable answer: {e}")))
    }
}

/// A client of one agent.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    /// Sent as `namespace=` on every request when set.
    namespace: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(address: &str, token: Option<String>) -> Result<Client, ClientError> {
        let base = address.trim_end_matches('/');
        // Nomad reads `127.0.0.1:4646` as `http://127.0.0.1:4646`.
        let base = if base.contains("://") {
            base.to_owned()
        } else {
            format!("http://{base}")
        };
        if !base.starts_with("http://") {
            return Err(ClientError::Transport(format!(
                "unsupported agent address {base:?}: rollout speaks plain HTTP (http://host:port)"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(HTTP_TIMEOUT_SECS))
            // The agent closes kept-alive connections idle for its header read timeout
            // (10 s by default); dropping ours well before means no request is ever sent
            // on a connection the agent is closing.
            .pool_idle_timeout(Duration::from_secs(POOL_IDLE_SECS))
            .build()
            .map_err(|e| ClientError::Transport(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client {
            base,
            token,
            namespace: None,
            http,
        })
    }

    /// The same client, sending `namespace` with every request.
    pub fn with_namespace(mut self, namespace: Option<String>) -> Client {
        self.namespace = namespace.filter(|n| !n.is_empty());
        self
    }

    /// A blocking read (spec §3): answers once the result's index passes `index`, or
    /// after [`BLOCKING_WAIT_SECS`] with the result unchanged.
    pub async fn get_blocking(&self, path: &str, index: u64) -> Result<Response, ClientError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        self.get(&format!(
            "{path}{sep}index={index}&wait={BLOCKING_WAIT_SECS}s"
        ))
        .await
    }

    pub async fn get(&self, path: &str) -> Result<Response, ClientError> {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Response, ClientError> {
        self.send(reqwest::Method::PUT, path, Some(body.to_string()))
            .await
    }

    /// Opens a stream (`GET /v1/event/stream`): the answer's head, with the body left to
    /// read as it comes (no overall timeout: a stream lasts as long as it is read).
    pub async fn open_stream(&self, path: &str) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{}", self.base, path);
        // No overall timeout: a stream lasts as long as it is read. The agent's
        // heartbeats keep an idle one alive.
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ClientError::Transport(format!("cannot build an HTTP client: {e}")))?;
        let mut req = http.get(&url);
        if let Some(token) = &self.token {
            req = req.header("X-Nomad-Token", token);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&url, &e))?;
        let code = resp.status().as_u16();
        if code != 200 {
            let body = resp.text().await.unwrap_or_default();
            return Err(ClientError::Status { code, body });
        }
        Ok(resp)
    }

    pub async fn delete(&self, path: &str) -> Result<Response, ClientError> {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Response, ClientError> {
        let mut url = format!("{}{}", self.base, path);
        // A path that names its namespace (an object found in another one) keeps it.
        if let Some(ns) = self
            .namespace
            .as_ref()
            .filter(|_| !path.contains("namespace="))
        {
            let sep = if path.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}namespace={}", encode(ns));
        }
        let mut req = self.http.request(method, &url);
        if let Some(token) = &self.token {
            req = req.header("X-Nomad-Token", token);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&url, &e))?;
        let code = resp.status().as_u16();
        let index = resp
            .headers()
            .get("X-Nomad-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = resp
            .text()
            .await
            .map_err(|e| ClientError::Transport(format!("error reading the answer: {e}")))?;
        if code != 200 {
            return Err(ClientError::Status { code, body });
        }
        Ok(Response { index, body })
    }
}

impl Client {
    /// A failed exchange, on one line: a refused connection names the address tried.
    fn transport_error(&self, url: &str, e: &reqwest::Error) -> ClientError {
        let mut root: &dyn std::error::Error = e;
        let mut refused = false;
        while let Some(next) = root.source() {
            root = next;
            if let Some(io) = next.downcast_ref::<std::io::Error>() {
                refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
            }
        }
        if refused {
            ClientError::Transport(format!(
                "no agent at {} (connection refused); set --address, ROLLOUT_ADDR or NOMAD_ADDR",
                self.base
            ))
        } else if e.is_timeout() {
            ClientError::Transport(format!("no answer from {url} within {HTTP_TIMEOUT_SECS}s"))
        } else {
            ClientError::Transport(format!("error querying {url}: {root}"))
        }
    }
}

/// Percent-encodes a path segment or query value (everything but RFC 3986's unreserved
/// characters), so that IDs with `/`, spaces or `?` reach the server as typed.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED_KEPT).to_string()
}

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const UNRESERVED_KEPT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Nomad's CLI accepts single-dash long flags (`-policy=x`, `-address x`). clap wants
/// two dashes, so the known long flags of the client commands are rewritten first.
pub fn normalize_flags(args: Vec<String>, long_flags: &[&str]) -> Vec<String> {
    args.into_iter()
        .map(|arg| {
            let Some(rest) = arg.strip_prefix('-').filter(|r| !r.starts_with('-')) else {
                return arg;
            };
            let name = rest.split('=').next().unwrap_or(rest);
            if long_flags.contains(&name) {
                format!("-{arg}")
            } else {
                arg
            }
        })
        .collect()
}

/// The global flags (`--address`, `--token`, `--namespace` with a value; `--json`,
/// `--dry-run`),
/// which Nomad also takes before the noun (`rollout -namespace team deployment pause
/// X`). clap takes them after it, so those written first are moved behind the noun.
/// Runs after [`normalize_flags`].
pub fn hoist_global_flags(args: Vec<String>) -> Vec<String> {
    const WITH_VALUE: &[&str] = &["--address", "--token", "--namespace"];
    const SWITCHES: &[&str] = &["--json", "--dry-run"];
    let mut rest = args.into_iter();
    let mut out: Vec<String> = rest.next().into_iter().collect();
    let mut hoisted = Vec::new();
    while let Some(arg) = rest.next() {
        let name = arg.split('=').next().unwrap_or(&arg);
        if SWITCHES.contains(&arg.as_str()) {
            hoisted.push(arg);
        } else if WITH_VALUE.contains(&name) {
            let inline = arg.contains('=');
            hoisted.push(arg);
            if !inline {
                hoisted.extend(rest.next());
            }
        } else {
            // The noun: the hoisted flags follow it.
            out.push(arg);
            out.extend(hoisted);
            out.extend(rest);
            return out;
        }
    }
    out.extend(hoisted);
    out
}

/// The first single-dash word of more than one letter left after [`normalize_flags`]:
/// a flag no command knows, to be named as typed (clap would read `-detach` as the
/// short flags `-d -e …` and complain about `-d`). Words after `--` are values.
pub fn unknown_single_dash_flag(args: &[String]) -> Option<&str> {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .map(String::as_str)
        .find(|a| {
            let mut chars = a.chars();
            chars.next() == Some('-')
                && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.next().is_some()
        })
}

/// What a one-shot command answers: the text to print, or what it was doing and why
/// that failed.
pub type Printed = Result<String, (&'static str, ClientError)>;

/// Runs a one-shot command on a current-thread runtime and prints its answer (stdout,
/// exit 0) or its failure as Nomad's CLI words one (`Error doing X: why`, exit 1).
pub fn run_and_print(command: impl FnOnce(&tokio::runtime::Runtime) -> Printed) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command(&runtime) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err((what, e)) => {
            eprintln!("{what}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomad_style_flags() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            normalize_flags(
                args(&[
                    "rollout",
                    "acl",
                    "token",
                    "create",
                    "-policy=a",
                    "-name",
                    "x",
                    "-",
                    "--type",
                    "-v"
                ]),
                &["policy", "name", "type"]
            ),
            args(&[
                "rollout",
                "acl",
                "token",
                "create",
                "--policy=a",
                "--name",
                "x",
                "-",
                "--type",
                "-v"
            ])
        );
    }

    #[test]
    fn errors_read_like_nomads() {
        let e = ClientError::Status {
            code: 403,
            body: "Permission denied".into(),
        };
        assert_eq!(
            e.to_string(),
            "Unexpected response code: 403 (Permission denied)"
        );
        let multi = ClientError::Status {
            code: 400,
            body: "1 error occurred:\n\t* Task group \"web\" has 0/1 healthy allocations\n\n"
                .into(),
        };
        assert_eq!(
            multi.to_string(),
            "Unexpected response code: 400 (Task group \"web\" has 0/1 healthy allocations)"
        );
        assert_eq!(encode("a b/c?d-e_f.g~h"), "a%20b%2Fc%3Fd-e_f.g~h");
        assert!(Client::new("https://x", None).is_err());
        assert!(Client::new("http://127.0.0.1:4646/", None).is_ok());
    }

    #[test]
    fn an_address_without_a_scheme_means_http() {
        let c = Client::new("127.0.0.1:4646", None).unwrap();
        assert_eq!(c.base, "http://127.0.0.1:4646");
        let c = Client::new("localhost:4646/", None).unwrap();
        assert_eq!(c.base, "http://localhost:4646");
        assert!(Client::new("https://127.0.0.1:4646", None).is_err());
    }

    #[test]
    fn global_flags_before_the_noun_move_behind_it() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            hoist_global_flags(args(&[
                "rollout",
                "--namespace",
                "team",
                "--address=http://a:1",
                "--json",
                "deployment",
                "pause",
                "X"
            ])),
            args(&[
                "rollout",
                "deployment",
                "--namespace",
                "team",
                "--address=http://a:1",
                "--json",
                "pause",
                "X"
            ])
        );
        let unchanged = args(&["rollout", "job", "status", "--namespace", "x", "web"]);
        assert_eq!(hoist_global_flags(unchanged.clone()), unchanged);
        assert_eq!(
            hoist_global_flags(args(&["rollout", "--token"])),
            args(&["rollout", "--token"])
        );
    }

    #[test]
    fn unknown_single_dash_flags_are_found_as_typed() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = args(&["rollout", "job", "run", "-bogus", "f"]);
        assert_eq!(unknown_single_dash_flag(&a), Some("-bogus"));
        let a = args(&["rollout", "job", "run", "-h", "--detach", "-", "-1"]);
        assert_eq!(unknown_single_dash_flag(&a), None);
        let a = args(&["rollout", "job", "run", "--", "-file"]);
        assert_eq!(unknown_single_dash_flag(&a), None);
    }
}
