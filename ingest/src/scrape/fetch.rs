//! Polite HTTP: one global rate limit shared by every request (retries included), a
//! descriptive User-Agent, a per-request timeout covering the whole body, `Retry-After`
//! honoured on 429/503, exponential backoff with jitter on 429/5xx/network errors, and a
//! bounded number of attempts per page. A response that will not get better by asking
//! again (404, a redirect loop, a non-HTML body) is returned at once as a rejection.

use std::time::{Duration, Instant};

/// Largest body accepted: real pages are under 0.6 MB (same bound as `load`).
const MAX_BODY_BYTES: usize = nba_pages::archive::MAX_PAGE_BYTES as usize;
/// Longest `Retry-After` we wait for; a server asking for more is treated as refusing.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    pub rate_per_minute: u32,
    pub timeout: Duration,
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with ±50 % jitter.
    pub backoff: Duration,
}

/// Validators for a conditional request.
#[derive(Debug, Clone, Default)]
pub struct Conditional {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    Ok {
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    NotModified,
    /// Not worth retrying, or retried `max_attempts` times: the reason.
    Failed(String),
}

pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
    next_slot: tokio::sync::Mutex<Instant>,
    rng: std::sync::Mutex<u64>,
    requests: std::sync::atomic::AtomicU64,
}

/// One attempt's outcome, before the retry decision.
enum Attempt {
    Done(Fetched),
    /// Worth another try; `wait` is what the server asked for (Retry-After), if anything.
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A loop or a long chain is a bad response, not something to follow forever.
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        let seed = u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(1) & u128::from(u64::MAX))
            .unwrap_or(1)
            | 1;
        Ok(Fetcher {
            client,
            config,
            next_slot: tokio::sync::Mutex::new(Instant::now()),
            rng: std::sync::Mutex::new(seed),
            requests: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits for the next slot of the global rate limit. The slot is taken under the lock,
    /// so concurrent callers (none today) would still be spaced out.
    async fn wait_for_slot(&self) {
        let interval = Duration::from_secs_f64(60.0 / f64::from(self.config.rate_per_minute.max(1)));
        let mut next = self.next_slot.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep_until((*next).into()).await;
        }
        *next = Instant::now() + interval;
    }

    /// `base * 2^(attempt-1)`, times a jitter factor in [0.5, 1.5), so that many clients
    /// (or many pages) do not retry in lock step.
    fn backoff(&self, attempt: u32) -> Duration {
        let jitter = {
            let mut s = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            // xorshift64: plenty for jitter, no extra dependency.
            *s ^= *s << 13;
            *s ^= *s >> 7;
            *s ^= *s << 17;
            (*s >> 11) as f64 / (1u64 << 53) as f64
        };
        backoff_delay(self.config.backoff, attempt, jitter)
    }

    /// Fetches one page, retrying as described in the module docs.
    pub async fn fetch(&self, url: &str, cond: &Conditional) -> Fetched {
        let attempts = self.config.max_attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.attempt(url, cond).await {
                Attempt::Done(f) => return f,
                Attempt::Retry { reason, wait } => {
                    tracing::debug!(%url, attempt, %reason, "will retry");
                    last = reason;
                    if attempt < attempts {
                        let backoff = self.backoff(attempt);
                        tokio::time::sleep(wait.map_or(backoff, |w| w.max(Duration::from_millis(1)))).await;
                    }
                }
            }
        }
        Fetched::Failed(format!("gave up after {attempts} attempts: {last}"))
    }

    async fn attempt(&self, url: &str, cond: &Conditional) -> Attempt {
        self.wait_for_slot().await;
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut req = self.client.get(url).header(reqwest::header::ACCEPT, "text/html");
        if let Some(etag) = &cond.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &cond.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return classify_error(&e),
        };
        let status = resp.status().as_u16();
        let header = |name: reqwest::header::HeaderName| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        match status {
            304 => return Attempt::Done(Fetched::NotModified),
            200 => {}
            429 | 503 => {
                let wait = header(reqwest::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v));
                if wait.is_some_and(|w| w > MAX_RETRY_AFTER) {
                    return Attempt::Done(Fetched::Failed(format!("HTTP {status} with Retry-After over {MAX_RETRY_AFTER:?}")));
                }
                return Attempt::Retry { reason: format!("HTTP {status}"), wait };
            }
            500..=599 => {
                return Attempt::Retry { reason: format!("HTTP {status}"), wait: None };
            }
            _ => return Attempt::Done(Fetched::Failed(format!("HTTP {status}"))),
        }
        let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        if !content_type.to_ascii_lowercase().starts_with("text/html") {
            return Attempt::Done(Fetched::Failed(format!("content type {content_type:?} is not text/html")));
        }
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_BODY_BYTES {
                        return Attempt::Done(Fetched::Failed(format!("body over {MAX_BODY_BYTES} bytes")));
                    }
                }
                Ok(None) => break,
                Err(e) => return classify_error(&e),
            }
        }
        Attempt::Done(Fetched::Ok { body, etag, last_modified })
    }
}

fn classify_error(e: &reqwest::Error) -> Attempt {
    // The error's source chain says what actually went wrong (refused, reset, cut short,
    // too many redirects).
    let mut chain = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        chain.push_str(&format!(": {s}"));
        src = s.source();
    }
    if e.is_redirect() {
        return Attempt::Done(Fetched::Failed(format!("redirect loop or too many redirects: {chain}")));
    }
    let what = if e.is_timeout() { "timed out" } else { "network error" };
    Attempt::Retry { reason: format!("{what}: {chain}"), wait: None }
}

/// `Retry-After` as delay-seconds or as an HTTP-date (RFC 9110 §10.2.3), relative to now.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    retry_after_at(v, chrono::Utc::now())
}

/// [`parse_retry_after`] at a given time: a date in the past means "now" (zero wait).
pub fn retry_after_at(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT") is RFC 2822 with the GMT zone.
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&chrono::Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// `base * 2^(attempt-1) * (0.5 + jitter)`, `jitter` in [0, 1), capped at 5 minutes.
pub fn backoff_delay(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    exp.mul_f64(0.5 + jitter.clamp(0.0, 1.0)).min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff_delay(base, 1, 0.5), Duration::from_millis(100));
        assert_eq!(backoff_delay(base, 2, 0.5), Duration::from_millis(200));
        assert_eq!(backoff_delay(base, 3, 0.0), Duration::from_millis(200));
        assert!(backoff_delay(base, 3, 0.999) < Duration::from_millis(600));
        assert_eq!(backoff_delay(base, 40, 0.5), Duration::from_secs(300));
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        assert_eq!(parse_retry_after(" 1 "), Some(Duration::from_secs(1)));
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:30Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(retry_after_at("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after_at("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO), "a past date: retry now");
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-5"), None);
    }
}
