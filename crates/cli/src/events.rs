//! `rollout events`: follow the agent's event stream (`GET /v1/event/stream`), one
//! line per event, and reconnect after a dropped connection or an agent restart
//! without missing or repeating an event (`after_index` = the last index seen).

use crate::client::{encode, ClientError};
use crate::operator::{CmdResult, Ctx, Failure, OperatorArgs};
use clap::Args;
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    op: OperatorArgs,
    /// `Topic` or `Topic:Key` (a job ID, or an object's ID); repeat for several. None:
    /// every topic (needs a management token when ACLs are on).
    #[arg(long, value_name = "TOPIC[:KEY]")]
    topic: Vec<String>,
    /// Start at this index (inclusive); 0, the default, is the oldest the agent keeps.
    #[arg(long, value_name = "N", conflicts_with = "after_index")]
    index: Option<u64>,
    /// Start strictly after this index: what to pass after seeing frame N.
    #[arg(long, value_name = "N")]
    after_index: Option<u64>,
    /// Only events from now on.
    #[arg(long, conflicts_with_all = ["index", "after_index"])]
    now: bool,
}

/// Pause before reconnecting after the stream ended or the agent went away.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

pub fn main(args: EventsArgs) -> ExitCode {
    let EventsArgs {
        op,
        topic,
        index,
        after_index,
        now,
    } = args;
    op.run(move |ctx| async move { follow(&ctx, &topic, index, after_index, now).await })
}

/// Where to (re)connect.
enum From {
    At(u64),
    After(u64),
    Now,
}

async fn follow(
    ctx: &Ctx,
    topics: &[String],
    index: Option<u64>,
    after_index: Option<u64>,
    now: bool,
) -> CmdResult {
    let mut from = match (index, after_index, now) {
        (_, _, true) => From::Now,
        (_, Some(n), _) => From::After(n),
        (Some(n), _, _) => From::At(n),
        _ => From::At(0),
    };
    loop {
        let path = stream_path(ctx, topics, &from);
        let mut resp = match ctx.client.open_stream(&path).await {
            Ok(r) => r,
            Err(ClientError::Status { code, body }) => {
                return Err(Failure::new(
                    "opening the event stream",
                    ClientError::Status { code, body },
                ))
            }
            Err(e) => {
                eprintln!("{e}; reconnecting");
                tokio::time::sleep(RECONNECT_AFTER).await;
                continue;
            }
        };
        let mut pending = String::new();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("event stream interrupted: {e}; reconnecting");
                    break;
                }
            };
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                match handle(ctx, line.trim_end())? {
                    Seen::Frame(index) => from = From::After(index),
                    Seen::Nothing => {}
                    Seen::Resume(index) => from = From::After(index),
                }
            }
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

fn stream_path(ctx: &Ctx, topics: &[String], from: &From) -> String {
    let mut path = format!("/v1/event/stream?namespace={}", encode(&ctx.namespace));
    for t in topics {
        path.push_str(&format!("&topic={}", encode(t)));
    }
    match from {
        From::At(n) => path.push_str(&format!("&index={n}")),
        From::After(n) => path.push_str(&format!("&after_index={n}")),
        From::Now => path.push_str("&start=now"),
    }
    path
}

enum Seen {
    Frame(u64),
    Nothing,
    Resume(u64),
}

/// Prints one line of the stream; says where a reconnect should start.
fn handle(ctx: &Ctx, line: &str) -> Result<Seen, Failure> {
    if line.is_empty() || line == "{}" {
        return Ok(Seen::Nothing);
    }
    let v: Value = serde_json::from_str(line)
        .map_err(|e| Failure::new("reading the event stream", format!("{e}: {line}")))?;
    if let Some(error) = v["Error"].as_str() {
        eprintln!("{error}");
        return match (
            v["LastIndex"].as_u64(),
            error.starts_with("Permission denied"),
        ) {
            (Some(last), false) => Ok(Seen::Resume(last)),
            _ => Err(Failure::quiet(1)),
        };
    }
    let index = v["Index"].as_u64().unwrap_or(0);
    if ctx.json {
        println!("{line}");
        return Ok(Seen::Frame(index));
    }
    for e in v["Events"].as_array().into_iter().flatten() {
        println!("{}", describe(e));
    }
    Ok(Seen::Frame(index))
}

/// `42  Deployment  DeploymentStatusUpdate  web  3f0c2a9e  failed: …` — the index, topic,
/// type, job, short key and what the object says about itself.
fn describe(e: &Value) -> String {
    let topic = e["Topic"].as_str().unwrap_or("");
    let payload = &e["Payload"][topic];
    let key = e["Key"].as_str().unwrap_or("");
    let short = if key.len() == 36 { &key[..8] } else { key };
    let job = payload["JobID"]
        .as_str()
        .or_else(|| payload["ID"].as_str().filter(|_| topic == "Job"))
        .unwrap_or("-");
    let status = match topic {
        "Deployment" | "Job" | "Evaluation" => {
            let s = payload["Status"].as_str().unwrap_or("");
            match payload["StatusDescription"]
                .as_str()
                .filter(|d| !d.is_empty())
            {
                Some(d) => format!("{s}: {d}"),
                None => s.to_string(),
            }
        }
        "Allocation" => {
            let client = payload["ClientStatus"].as_str().unwrap_or("");
            match payload["DeploymentStatus"]["Healthy"].as_bool() {
                Some(true) => format!("{client}, healthy"),
                Some(false) => format!("{client}, unhealthy"),
                None => client.to_string(),
            }
        }
        _ => String::new(),
    };
    format!(
        "{:<6} {:<10} {:<24} {:<12} {:<8} {}",
        e["Index"].as_u64().unwrap_or(0),
        topic,
        e["Type"].as_str().unwrap_or(""),
        job,
        short,
        status
    )
    .trim_end()
    .to_string()
}
