//! The access-token cache of the client: which credentials are in use, the token they got,
//! when to refresh it, and why the next login happens (the `reason` label of
//! `vpsie_api_token_refreshes_total`). Pure: every method takes the current time.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::credentials::{Credentials, SecretString};
use super::decode::LoginToken;
use super::metrics::RefreshReason;

/// How long before its expiry the access token is refreshed.
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The lifetime assumed for an access token whose login answer gave no expiry.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A bearer token to send, and the serial of the cached token it came from (`None` for a
/// static token, which is never refreshed).
pub type Bearer = (SecretString, Option<u64>);

/// When to refresh a token expiring at `expires` (got at `now`; one hour when not given):
/// 5 minutes before, or halfway for a token living 10 minutes or less.
pub fn refresh_time(now: DateTime<Utc>, expires: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let lifetime = chrono::Duration::from_std(DEFAULT_TOKEN_LIFETIME).unwrap_or_default();
    let margin = chrono::Duration::from_std(TOKEN_REFRESH_MARGIN).unwrap_or_default();
    let expires = expires.unwrap_or(now + lifetime);
    let left = expires - now;
    if left <= chrono::Duration::zero() {
        now
    } else if left <= margin * 2 {
        now + left / 2
    } else {
        expires - margin
    }
}

#[derive(Clone)]
struct CachedToken {
    token: SecretString,
    refresh_at: DateTime<Utc>,
    serial: u64,
}

/// The credentials in use and their cached access token. `Debug` shows no secret.
pub struct TokenCache {
    credentials: Credentials,
    loaded_at: DateTime<Utc>,
    token: Option<CachedToken>,
    next_reason: RefreshReason,
    serial: u64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("credentials", &self.credentials)
            .field("loaded_at", &self.loaded_at)
            .field("has_token", &self.token.is_some())
            .field("refresh_at", &self.token.as_ref().map(|t| t.refresh_at))
            .finish()
    }
}

impl TokenCache {
    /// A cache for `credentials`, loaded at `now`, with no token yet.
    pub fn new(credentials: Credentials, now: DateTime<Utc>) -> Self {
        TokenCache {
            credentials,
            loaded_at: now,
            token: None,
            next_reason: RefreshReason::Initial,
            serial: 0,
        }
    }

    /// The credentials in use.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// When they were loaded.
    pub fn loaded_at(&self) -> DateTime<Utc> {
        self.loaded_at
    }

    /// Whether a token is cached.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Why the next login will happen.
    pub fn next_reason(&self) -> RefreshReason {
        self.next_reason
    }

    /// The token to send now, if one is valid: the static token, or a cached token not yet
    /// due for refresh. A token due for refresh is dropped (next reason: `expiry`).
    pub fn current(&mut self, now: DateTime<Utc>) -> Option<Bearer> {
        if let Credentials::StaticToken(t) = &self.credentials {
            return Some((t.clone(), None));
        }
        match &self.token {
            Some(t) if now < t.refresh_at => Some((t.token.clone(), Some(t.serial))),
            Some(_) => {
                self.token = None;
                self.next_reason = RefreshReason::Expiry;
                None
            }
            None => None,
        }
    }

    /// Keeps a fresh token got with `used`; when the credentials changed meanwhile, the token
    /// is returned for the one call but not cached.
    pub fn store(&mut self, used: &Credentials, token: LoginToken, now: DateTime<Utc>) -> Bearer {
        self.serial += 1;
        let serial = self.serial;
        if &self.credentials == used {
            self.token = Some(CachedToken {
                token: token.token.clone(),
                refresh_at: refresh_time(now, token.expires),
                serial,
            });
            self.next_reason = RefreshReason::Expiry;
        }
        (token.token, Some(serial))
    }

    /// Drops the cached token after the API refused it (401), if it is still the one with
    /// `serial` (another call may already have replaced it).
    pub fn invalidate(&mut self, serial: u64) -> bool {
        if self.token.as_ref().is_some_and(|t| t.serial == serial) {
            self.token = None;
            self.next_reason = RefreshReason::Unauthorized;
            true
        } else {
            false
        }
    }

    /// Replaces the credentials (Secret rotated) and drops the token; returns whether they
    /// changed (unchanged credentials keep everything).
    pub fn replace(&mut self, credentials: Credentials, now: DateTime<Utc>) -> bool {
        if self.credentials == credentials {
            return false;
        }
        self.credentials = credentials;
        self.loaded_at = now;
        self.token = None;
        self.next_reason = RefreshReason::Rotated;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid")
    }

    fn login(token: &str, expires: Option<DateTime<Utc>>) -> LoginToken {
        LoginToken {
            token: SecretString::new(token),
            expires,
        }
    }

    #[test]
    fn refresh_times() {
        let now = t0();
        let h = chrono::Duration::hours;
        let m = chrono::Duration::minutes;
        assert_eq!(refresh_time(now, Some(now + h(1))), now + m(55));
        assert_eq!(refresh_time(now, None), now + m(55));
        assert_eq!(refresh_time(now, Some(now + m(4))), now + m(2));
        assert_eq!(refresh_time(now, Some(now + m(10))), now + m(5));
        assert_eq!(refresh_time(now, Some(now + m(11))), now + m(6));
        assert_eq!(refresh_time(now, Some(now - m(4))), now);
    }

    #[test]
    fn lifecycle_of_a_client_credentials_token() {
        let creds = Credentials::client("id", "secret");
        let mut c = TokenCache::new(creds.clone(), t0());
        assert_eq!(c.next_reason(), RefreshReason::Initial);
        assert!(c.current(t0()).is_none());
        let (tok, serial) = c.store(
            &creds,
            login("a", Some(t0() + chrono::Duration::hours(1))),
            t0(),
        );
        assert_eq!(tok.expose(), "a");
        assert_eq!(serial, Some(1));
        let at = |mins| t0() + chrono::Duration::minutes(mins);
        assert_eq!(
            c.current(at(54)).map(|(t, s)| (t.expose().to_string(), s)),
            Some(("a".to_string(), Some(1)))
        );
        assert!(
            c.current(at(55)).is_none(),
            "refreshed 5 minutes before expiry"
        );
        assert_eq!(c.next_reason(), RefreshReason::Expiry);
        assert!(!c.has_token());
    }

    #[test]
    fn invalidate_only_the_token_that_failed() {
        let creds = Credentials::client("id", "secret");
        let mut c = TokenCache::new(creds.clone(), t0());
        let (_, first) = c.store(&creds, login("a", None), t0());
        let (_, second) = c.store(&creds, login("b", None), t0());
        assert!(
            !c.invalidate(first.expect("serial")),
            "a stale 401 keeps the newer token"
        );
        assert!(c.has_token());
        assert!(c.invalidate(second.expect("serial")));
        assert_eq!(c.next_reason(), RefreshReason::Unauthorized);
        assert!(c.current(t0()).is_none());
    }

    #[test]
    fn rotation_drops_the_token_and_late_logins_are_not_cached() {
        let old = Credentials::client("id", "old");
        let new = Credentials::client("id", "new");
        let mut c = TokenCache::new(old.clone(), t0());
        c.store(&old, login("a", None), t0());
        let later = t0() + chrono::Duration::seconds(5);
        assert!(
            !c.replace(old.clone(), later),
            "same credentials: nothing changes"
        );
        assert!(c.has_token());
        assert_eq!(c.loaded_at(), t0());
        assert!(c.replace(new.clone(), later));
        assert_eq!(c.loaded_at(), later);
        assert!(!c.has_token());
        assert_eq!(c.next_reason(), RefreshReason::Rotated);
        // A login that started with the old credentials finishes now: used once, not kept.
        let (tok, _) = c.store(&old, login("stale", None), later);
        assert_eq!(tok.expose(), "stale");
        assert!(!c.has_token());
        assert_eq!(c.credentials(), &new);
    }

    #[test]
    fn static_tokens_are_always_current_and_debug_is_redacted() {
        let mut c = TokenCache::new(Credentials::token("tok-static-1"), t0());
        let far = t0() + chrono::Duration::days(400);
        let (t, serial) = c.current(far).expect("static");
        assert_eq!(t.expose(), "tok-static-1");
        assert_eq!(serial, None);
        assert!(!format!("{c:?}").contains("tok-static-1"));
        let creds = Credentials::client("id", "sec-zz");
        let mut c = TokenCache::new(creds.clone(), t0());
        c.store(&creds, login("tok-zz", None), t0());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("tok-zz") && !dbg.contains("sec-zz"), "{dbg}");
    }
}
