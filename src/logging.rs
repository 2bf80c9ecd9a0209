//! The broker's own log on stderr, in the format `milena.log.format` names:
//!
//! - `text` (the default): tracing's human format, one event a line with its fields as
//!   `key=value`, coloured when stderr is a terminal;
//! - `json`: one JSON object a line (`timestamp`, `level`, `target`, `message` and the event's
//!   fields at the top level), for log shippers (Fluent Bit, Vector, Loki, Elasticsearch);
//! - `kafka`: the layout of Kafka's log4j configuration, `[yyyy-MM-dd HH:mm:ss,SSS] LEVEL message
//!   (module)`, in UTC, so that grep patterns and parsers written for Kafka's server.log keep
//!   working.
//!
//! `MILENA_LOG` (an `EnvFilter` directive such as `debug` or `info,milena::cluster=debug`) picks
//! what is logged in every format.

use std::fmt;
use std::str::FromStr;

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, UtcTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// `milena.log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
    Kafka,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            "kafka" => Ok(LogFormat::Kafka),
            other => Err(format!("unknown log format '{other}'")),
        }
    }
}

/// The values `milena.log.format` accepts.
pub const LOG_FORMATS: &[&str] = &["text", "json", "kafka"];

/// Installs the process's log subscriber, writing to stderr. Call once, before the first event
/// worth keeping.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("MILENA_LOG")
        // openraft narrates every vote and append at info.
        .unwrap_or_else(|_| EnvFilter::new("info,openraft=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Kafka => builder
            .with_ansi(false)
            .event_format(KafkaLayout {
                timer: UtcTime::new(KAFKA_TIME),
            })
            .init(),
    }
}

/// log4j's `%d` as Kafka's `log4j2.yaml` prints it.
const KAFKA_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second],[subsecond digits:3]");

/// Kafka's `[%d] %p %m (%c)%n`: the event's fields follow the message as `key=value`, and the
/// module path stands where log4j prints the logger's class.
struct KafkaLayout {
    timer: UtcTime<&'static [BorrowedFormatItem<'static>]>,
}

impl<S, N> FormatEvent<S, N> for KafkaLayout
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "[")?;
        self.timer.format_time(&mut writer)?;
        write!(writer, "] {} ", meta.level())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer, " ({})", meta.target())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_case_insensitively_and_unknown_ones_are_refused() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!(" Kafka ".parse::<LogFormat>(), Ok(LogFormat::Kafka));
        assert_eq!("TEXT".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("logfmt".parse::<LogFormat>().is_err());
        for name in LOG_FORMATS {
            assert!(name.parse::<LogFormat>().is_ok(), "{name}");
        }
    }
}
