//! Durations and sizes as users write them (`30d`, `1.5GiB`), and sizes and times as cairn
//! prints them.

use std::fmt;
use std::time::Duration;

/// A duration or size argument that cairn cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// Not a duration.
    #[error(
        "invalid duration `{input}`: expected a whole number followed by s, m, h, d or w \
         (seconds, minutes, hours, days, weeks), e.g. `30d`, `12h`, `90m`"
    )]
    Duration {
        /// What was given.
        input: String,
    },
    /// Not a size.
    #[error(
        "invalid size `{input}`: expected a number of bytes (`1024`) or a number followed by \
         B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), \
         e.g. `500MiB`, `10GB`, `1.5GiB`"
    )]
    Size {
        /// What was given.
        input: String,
    },
    /// A size or duration too large to represent.
    #[error("`{input}` is too large")]
    Overflow {
        /// What was given.
        input: String,
    },
}

/// Parses a duration: a whole number and one unit, `s`, `m`, `h`, `d` or `w` (`30d`, `12h`,
/// `90m`, `45s`, `2w`).
///
/// ```
/// use std::time::Duration;
/// use cairn_cache::maintenance::parse_duration;
///
/// assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(90 * 60));
/// assert!(parse_duration("30").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let invalid = || UnitError::Duration {
        input: input.to_owned(),
    };
    let split = input
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = input.split_at(split);
    if number.is_empty() {
        return Err(invalid());
    }
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        "w" => 7 * 24 * 60 * 60,
        _ => return Err(invalid()),
    };
    let overflow = || UnitError::Overflow {
        input: input.to_owned(),
    };
    let number: u64 = number.parse().map_err(|_| overflow())?;
    let seconds = number.checked_mul(seconds_per_unit).ok_or_else(overflow)?;
    Ok(Duration::from_secs(seconds))
}

/// Parses a size in bytes: a whole number of bytes, or a number (with an optional fraction)
/// followed by a unit. `B`, `KB`, `MB`, `GB`, `TB` are powers of 1000; `KiB`, `MiB`, `GiB`,
/// `TiB` powers of 1024. Units are case-insensitive; a fraction of a byte is rounded down.
///
/// ```
/// use cairn_cache::maintenance::parse_size;
///
/// assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
/// assert_eq!(parse_size("10GB").unwrap(), 10_000_000_000);
/// assert!(parse_size("10 parsecs").is_err());
/// ```
pub fn parse_size(input: &str) -> Result<u64, UnitError> {
    let invalid = || UnitError::Size {
        input: input.to_owned(),
    };
    let overflow = || UnitError::Overflow {
        input: input.to_owned(),
    };
    let split = input
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(input.len());
    let (number, unit) = input.split_at(split);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000u64.pow(2),
        "gb" => 1000u64.pow(3),
        "tb" => 1000u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(invalid()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return Err(invalid());
    }
    if number.contains('.') && (fraction.is_empty() || multiplier == 1) {
        // `1.` is a typo, and a fraction of a byte is meaningless.
        return Err(invalid());
    }
    let whole: u64 = whole.parse().map_err(|_| overflow())?;
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(overflow)?;
    // The fraction is exact up to 18 digits: `0.fraction * multiplier`, in integers.
    let fraction = fraction.get(..fraction.len().min(18)).unwrap_or_default();
    if !fraction.is_empty() {
        let numerator: u128 = fraction.parse().map_err(|_| invalid())?;
        let denominator = 10u128.pow(u32::try_from(fraction.len()).map_err(|_| invalid())?);
        let part = numerator * u128::from(multiplier) / denominator;
        bytes = bytes
            .checked_add(u64::try_from(part).map_err(|_| overflow())?)
            .ok_or_else(overflow)?;
    }
    Ok(bytes)
}

/// Formats a byte count for people, in powers of 1024 with one decimal: `512 B`, `1.0 KiB`,
/// `1.2 GiB`.
///
/// ```
/// use cairn_cache::maintenance::format_size;
///
/// assert_eq!(format_size(1023), "1023 B");
/// assert_eq!(format_size(1288490189), "1.2 GiB");
/// ```
pub fn format_size(bytes: u64) -> String {
    let mut text = String::new();
    // Writing into a `String` cannot fail.
    let _ = write_size(&mut text, bytes);
    text
}

/// Writes `bytes` as [`format_size`] formats it, without allocating: for tables of many rows.
pub fn write_size(out: &mut impl fmt::Write, bytes: u64) -> fmt::Result {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return write!(out, "{bytes} B");
    }
    // Integer tenths rather than `{:.1}` of a float, whose exact formatting is a slow path
    // (`cache list` prints 100,000 sizes); rounded half to even, as `{:.1}` rounds.
    let mut unit = 0;
    let mut divisor: u128 = 1024;
    let tenths = loop {
        let tenths = divide_half_even(u128::from(bytes) * 10, divisor);
        if tenths < 10_240 || unit + 1 == UNITS.len() {
            break tenths;
        }
        unit += 1;
        divisor *= 1024;
    };
    write!(out, "{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// `numerator / denominator`, rounded to the nearest whole number, ties to the even one.
fn divide_half_even(numerator: u128, denominator: u128) -> u128 {
    let (quotient, remainder) = (numerator / denominator, numerator % denominator);
    match (remainder * 2).cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + quotient % 2,
    }
}

/// Formats seconds since the Unix epoch as a UTC date and time to the minute:
/// `2025-06-01 14:03`.
///
/// ```
/// use cairn_cache::maintenance::format_timestamp;
///
/// assert_eq!(format_timestamp(0), "1970-01-01 00:00");
/// assert_eq!(format_timestamp(951_827_696), "2000-02-29 12:34");
/// ```
pub fn format_timestamp(unix_seconds: u64) -> String {
    let mut text = String::new();
    // Writing into a `String` cannot fail.
    let _ = write_timestamp(&mut text, unix_seconds);
    text
}

/// Writes `unix_seconds` as [`format_timestamp`] formats it, without allocating.
pub fn write_timestamp(out: &mut impl fmt::Write, unix_seconds: u64) -> fmt::Result {
    let days = unix_seconds / 86_400;
    let seconds_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_date(days);
    write!(
        out,
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01. Counts 400-year eras (146,097 days
/// each) from 0000-03-01, so that the leap day ends a year.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Days from 0000-03-01 to 1970-01-01.
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 is March, 11 is February.
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}
