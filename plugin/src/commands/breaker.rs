//! `breaker [status]` and `breaker reset [--yes]`: the VPSie API circuit breaker as the
//! controller reports it, and a reset through the status ConfigMap's
//! `autoscaler.vpsie.com/breaker-reset=<RFC 3339 now>` annotation, acknowledged in the report's
//! `breakerReset.acknowledged`.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use vpsie_reconciler::report::{
    request_breaker_reset, wait_for_report, ApiErrorsReport, BreakerReport, BreakerResetReport,
    BreakerStatus, StatusReport,
};

use crate::cli::OutputFormat;
use crate::commands::common::{self, ago, report_error, Cluster, Spinner};
use crate::error::PluginError;

/// The version of [`BreakerView`]'s JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// `breaker -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerView {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When the controller built the report.
    pub reported_at: DateTime<Utc>,
    /// The breaker; `None` while the controller has no VPSie client (credentials not loaded).
    pub breaker: Option<BreakerReport>,
    /// VPSie API errors in the window.
    pub api_errors: ApiErrorsReport,
    /// The reset handshake.
    pub reset: BreakerResetReport,
}

/// The view of a report. Pure.
pub fn compute(r: &StatusReport) -> BreakerView {
    BreakerView {
        schema_version: SCHEMA_VERSION,
        reported_at: r.generated_at,
        breaker: r.breaker.clone(),
        api_errors: r.api_errors.clone(),
        reset: r.breaker_reset.clone(),
    }
}

/// The text. Pure.
pub fn render(v: &BreakerView, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let Some(b) = &v.breaker else {
        return "circuit breaker: - (the controller has no VPSie client yet: the credentials are not loaded; see `kubectl vpsie status`)\n".to_string();
    };
    let state = match b.state {
        BreakerStatus::Closed => "closed (calls go through)",
        BreakerStatus::Open => "OPEN (VPSie API calls are refused)",
        BreakerStatus::HalfOpen => "half-open (one probe at a time)",
    };
    let _ = writeln!(out, "circuit breaker:       {state}");
    let _ = writeln!(
        out,
        "since:                 {} ({})",
        b.since.to_rfc3339_opts(SecondsFormat::Secs, true),
        ago(now, Some(b.since))
    );
    let _ = writeln!(out, "consecutive failures:  {}", b.consecutive_failures);
    let _ = writeln!(out, "opened since start:    {}", b.opened_count);
    match b.next_probe_at {
        Some(p) if p > now => {
            let _ = writeln!(
                out,
                "next half-open probe:  {} (in {})",
                p.to_rfc3339_opts(SecondsFormat::Secs, true),
                common::short_duration(p - now)
            );
        }
        Some(p) => {
            let _ = writeln!(
                out,
                "next half-open probe:  {} (due)",
                p.to_rfc3339_opts(SecondsFormat::Secs, true)
            );
        }
        None => {}
    }
    if let Some(f) = &b.last_failure {
        let _ = writeln!(out, "last failure:          {f}");
    }
    let window = common::short_duration(chrono::Duration::seconds(
        i64::try_from(v.api_errors.window_seconds).unwrap_or(i64::MAX),
    ));
    let errors = if v.api_errors.by_type.is_empty() {
        "none".to_string()
    } else {
        v.api_errors
            .by_type
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(out, "API errors (last {window}): {errors}");
    if let (Some(a), Some(at)) = (&v.reset.acknowledged, v.reset.at) {
        let _ = writeln!(
            out,
            "last reset:            {a} (done {})",
            ago(now, Some(at))
        );
    }
    out
}

/// `breaker` / `breaker status`.
pub async fn status(cluster: &Cluster, format: OutputFormat) -> Result<(), PluginError> {
    let r = cluster.report().await?;
    let v = compute(&r);
    let text = match common::structured(format, &v) {
        Some(t) => t?,
        None => render(&v, common::reference_now(Utc::now(), [r.generated_at])),
    };
    crate::out!("{text}");
    Ok(())
}

/// Whether to go ahead: `--yes`, else a prompt on a terminal; refused without one. `ask`
/// asks the question.
pub fn confirm(
    yes: bool,
    interactive: bool,
    ask: impl FnOnce() -> Result<bool, String>,
) -> Result<bool, PluginError> {
    if yes {
        return Ok(true);
    }
    if !interactive {
        return Err(PluginError::Refused(
            "refusing to reset the circuit breaker without confirmation: stdin is not a terminal; pass --yes to reset anyway".into(),
        ));
    }
    ask().map_err(|e| {
        PluginError::Refused(format!(
            "no confirmation: {e}; pass --yes to reset without a prompt"
        ))
    })
}

/// `breaker reset`.
pub async fn reset(
    cluster: &Cluster,
    yes: bool,
    timeout: Duration,
    format: OutputFormat,
) -> Result<(), PluginError> {
    let before = cluster.report().await?;
    let state = before
        .breaker
        .as_ref()
        .map(|b| format!("{:?}", b.state).to_lowercase())
        .unwrap_or_else(|| "unknown".into());
    let go = confirm(yes, common::interactive(), || {
        dialoguer::Confirm::new()
            .with_prompt(format!(
                "Reset the VPSie API circuit breaker (now {state})?"
            ))
            .default(false)
            .interact()
            .map_err(|e| e.to_string())
    })?;
    if !go {
        crate::outln!("not reset");
        return Ok(());
    }
    let value = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    request_breaker_reset(&cluster.client, &cluster.namespace, &value)
        .await
        .map_err(|e| report_error(&cluster.namespace, e))?;
    let spinner = Spinner::start(format!(
        "waiting for the controller to acknowledge breaker reset {value}..."
    ));
    let done = wait_for_report(&cluster.client, &cluster.namespace, timeout, |r| {
        r.breaker_reset.acknowledged.as_deref() == Some(value.as_str())
    })
    .await;
    spinner.stop();
    let r = done.map_err(|e| {
        cluster.refused_report_wait(e).unwrap_or_else(|| PluginError::Timeout(format!(
            "the controller did not acknowledge breaker reset {value} within {}s (breakerReset.acknowledged in ConfigMap {ns}/vpsie-autoscaler-status): check that it runs and leads (`kubectl vpsie status`, `kubectl logs -n {ns} deployment/vpsie-autoscaler`)",
            timeout.as_secs(),
            ns = cluster.namespace
        )))
    })?;
    let v = compute(&r);
    match common::structured(format, &v) {
        Some(t) => crate::out!("{}", t?),
        None => {
            crate::outln!("circuit breaker reset acknowledged ({value})");
            crate::out!(
                "{}",
                render(&v, common::reference_now(Utc::now(), [r.generated_at]))
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_needs_yes_or_a_terminal() {
        assert!(confirm(true, false, || panic!("not asked")).unwrap());
        let e = confirm(false, false, || panic!("not asked")).unwrap_err();
        assert!(e.to_string().contains("pass --yes"), "{e}");
        assert!(!confirm(false, true, || Ok(false)).unwrap());
        assert!(confirm(false, true, || Ok(true)).unwrap());
        assert!(confirm(false, true, || Err("io".into())).is_err());
    }
}
