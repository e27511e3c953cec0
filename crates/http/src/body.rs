//! Receiving request bodies: before a request takes a slot, bounded in size, time and rate.
//!
//! Every request's body is received here, in full, before the request reaches the
//! concurrency limit (`limits::limit_requests`) and its handler, for three reasons:
//! - **A body being received holds no request slot.** A client that trickles bodies (or
//!   sends one byte and stalls) on many connections would otherwise hold every slot and
//!   make the agent answer everyone else 503. What it holds here is its connections,
//!   which are capped per client; and the minimum rate below cuts it off early.
//! - **A slow body is cut early.** Past a grace period, a body must arrive at a minimum
//!   average rate, or it is answered 408 at once rather than at the body read timeout;
//!   the timeout still bounds the whole body.
//! - **Every bounded body is read,** also when the handler has no use for it (a GET with
//!   a body, a 405, `fail/:id`, an unknown path): an unread body would make hyper close
//!   the kept-alive connection after answering, without `Connection: close`, and the
//!   client's next request on it would fail.
//!
//! A body that is refused (declared larger than the limit: 413 at once, without reading
//! it; larger than the limit once received; too slow; broken) is answered with
//! `Connection: close`, since what remains of it cannot be told from the next request.

use crate::error::ApiError;
use crate::server::Api;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tokio::time::Instant;

/// Admission step (`routes::admission`): receives the whole body (see the module docs), then runs the request with
/// it in memory.
pub async fn receive<F: std::future::Future<Output = Response>>(
    api: &Api,
    request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    let (parts, body) = request.into_parts();
    let config = api.config();
    let limit = config.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return closing(ApiError::too_large("Request body too large"));
    }
    if body.is_end_stream() {
        return next(Request::from_parts(parts, body)).await;
    }
    let rules = Rules {
        limit,
        timeout: config.body_read_timeout,
        min_rate: config.body_min_rate_bytes_per_second,
        grace: config.body_min_rate_grace,
    };
    match read(body, &rules).await {
        Ok(bytes) => next(Request::from_parts(parts, Body::from(bytes))).await,
        Err(refusal) => closing(refusal),
    }
}

/// An error answer after which the connection is closed.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

struct Rules {
    limit: usize,
    timeout: Duration,
    /// Bytes per second, on average from the start, once `grace` has passed (0: none).
    min_rate: u64,
    grace: Duration,
}

impl Rules {
    /// When the body must have delivered more than `received` bytes: the earlier of the
    /// whole body's timeout and the moment its average rate would fall below the minimum.
    fn deadline(&self, started: Instant, received: usize) -> (Instant, bool) {
        let timeout = started + self.timeout;
        if self.min_rate == 0 {
            return (timeout, false);
        }
        let due = Duration::from_secs_f64((received as f64 + 1.0) / self.min_rate as f64);
        let rate = started + self.grace + due;
        if rate < timeout {
            (rate, true)
        } else {
            (timeout, false)
        }
    }
}

async fn read(mut body: Body, rules: &Rules) -> Result<Bytes, ApiError> {
    let started = Instant::now();
    let mut out = Vec::new();
    loop {
        let (deadline, by_rate) = rules.deadline(started, out.len());
        let frame = tokio::select! {
            frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)) => frame,
            () = tokio::time::sleep_until(deadline) => {
                return Err(if by_rate {
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        format!(
                            "request body arriving too slowly: {} bytes in {:.1}s, at least {} bytes/s are required",
                            out.len(),
                            started.elapsed().as_secs_f64(),
                            rules.min_rate
                        ),
                    )
                } else {
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        format!(
                            "request body not received within {}s",
                            rules.timeout.as_secs_f64()
                        ),
                    )
                });
            }
        };
        let Some(frame) = frame else {
            return Ok(Bytes::from(out));
        };
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        // Trailers carry nothing rollout reads.
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > rules.limit {
                return Err(ApiError::too_large("Request body too large"));
            }
            out.extend_from_slice(&data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_rate_after_the_grace_or_the_timeout() {
        let rules = Rules {
            limit: 1 << 20,
            timeout: Duration::from_secs(30),
            min_rate: 1000,
            grace: Duration::from_secs(2),
        };
        let t0 = Instant::now();
        assert_eq!(rules.deadline(t0, 999), (t0 + Duration::from_secs(3), true));
        assert_eq!(
            rules.deadline(t0, 9999),
            (t0 + Duration::from_secs(12), true)
        );
        // A body fast enough to be due after the timeout is bounded by the timeout.
        assert_eq!(
            rules.deadline(t0, 100_000),
            (t0 + Duration::from_secs(30), false)
        );
        let no_rate = Rules {
            min_rate: 0,
            ..rules
        };
        assert_eq!(
            no_rate.deadline(t0, 0),
            (t0 + Duration::from_secs(30), false)
        );
    }
}
