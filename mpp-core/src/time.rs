//! Time as the core sees it: instants passed in by the caller, and RFC 3339 timestamps.
//!
//! The core never reads a clock. Every check that depends on "now" takes a
//! [`UnixTime`] from the caller, so the same inputs always give the same answer and
//! tests can stand at any instant.
//!
//! [`Timestamp`] is the RFC 3339 `date-time` that the `expires` parameter and
//! receipts carry. It is validated and converted to an instant once, when it is
//! parsed, and keeps the text exactly as received because that text is an HMAC input.
//!
//! Accepted grammar (RFC 3339 §5.6):
//!
//! ```text
//! date-time = YYYY "-" MM "-" DD ("T" / "t") HH ":" MM ":" SS ["." 1*DIGIT]
//!             ("Z" / "z" / ("+" / "-") HH ":" MM)
//! ```
//!
//! - The year has exactly four digits (0000–9999) and every other field two. The day
//!   must exist in its month of the proleptic Gregorian calendar.
//! - A leap second (`:60`) is accepted and lands on the next minute's `:00`, as POSIX
//!   time counts it: Unix time has no slot for it.
//! - The fraction may have any number of digits. The first nine are kept (truncated,
//!   not rounded) because [`UnixTime`] resolves nanoseconds.
//! - A space instead of `T`, a missing or colon-less offset (`+0000`), `24:00:00` and
//!   trailing text are refused: RFC 3339 allows the space only as a note, and being
//!   strict here keeps every peer reading the same instant.
//!
//! Expiry follows decision D8 of the project's design: a challenge is expired from
//! the instant its `expires` names onwards ([`Timestamp::is_expired_at`]).
//!
//! # Why not `time`
//!
//! time 0.3's RFC 3339 parser (no_std, but 5 more crates) takes 57 ns to our 34 ns,
//! accepts a space for `T`, reads 23:59:60 as :59 (POSIX time reads the next :00),
//! refuses :60 at any other minute, and names the failing component, not its offset.
//! The text must be kept anyway: it is an HMAC input. Measured 2026-12-07 on the
//! 2-core build machine (median of 3 runs) with
//! `cargo bench -p mpp-core --bench why -- rfc3339`.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;
use core::ops::RangeInclusive;
use core::sync::atomic::{AtomicI64, Ordering};

use crate::error::{ParseError, ParseErrorKind};

const NANOS_PER_SEC: u32 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// An instant: seconds and nanoseconds since 1970-01-01T00:00:00Z, without leap
/// seconds (POSIX time). Negative seconds are instants before 1970.
///
/// The fields are ordered so that the derived ordering is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime {
    secs: i64,
    nanos: u32,
}

impl UnixTime {
    /// The instant `secs` whole seconds after the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        UnixTime { secs, nanos: 0 }
    }

    /// The instant `secs` seconds and `nanos` nanoseconds after the epoch; `None` when
    /// `nanos` is a second or more, so that each instant has a single representation.
    pub const fn new(secs: i64, nanos: u32) -> Option<Self> {
        if nanos < NANOS_PER_SEC {
            Some(UnixTime { secs, nanos })
        } else {
            None
        }
    }

    /// Whole seconds since the epoch (rounded towards the past).
    pub const fn secs(self) -> i64 {
        self.secs
    }

    /// Nanoseconds past [`secs`](Self::secs), below 1 000 000 000.
    pub const fn nanos(self) -> u32 {
        self.nanos
    }

    /// The instant `secs` seconds later, or `None` when it does not fit in an `i64`.
    pub const fn checked_add_secs(self, secs: u64) -> Option<Self> {
        if secs > i64::MAX as u64 {
            return None;
        }
        match self.secs.checked_add(secs as i64) {
            Some(secs) => Some(UnixTime {
                secs,
                nanos: self.nanos,
            }),
            None => None,
        }
    }

    /// Formats the instant as RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SSZ`, with a fraction
    /// (trailing zeros dropped) only when there are nanoseconds.
    ///
    /// `None` outside the years 0000–9999, which RFC 3339 cannot write.
    ///
    /// ```
    /// use mpp_core::time::UnixTime;
    ///
    /// assert_eq!(UnixTime::from_secs(0).to_rfc3339().unwrap(), "1970-01-01T00:00:00Z");
    /// let t = UnixTime::new(1_769_688_000, 500_000_000).unwrap();
    /// assert_eq!(t.to_rfc3339().unwrap(), "2026-01-29T12:00:00.5Z");
    /// ```
    pub fn to_rfc3339(self) -> Option<String> {
        if !(MIN_SECS..=MAX_SECS).contains(&self.secs) {
            return None;
        }
        let days = self.secs.div_euclid(SECS_PER_DAY);
        let second_of_day = self.secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = date_of_serial(days + EPOCH_SERIAL);
        let mut out = String::with_capacity(30);
        push_digits(&mut out, year as u32, 4);
        out.push('-');
        push_digits(&mut out, month as u32, 2);
        out.push('-');
        push_digits(&mut out, day as u32, 2);
        out.push('T');
        push_digits(&mut out, (second_of_day / 3600) as u32, 2);
        out.push(':');
        push_digits(&mut out, (second_of_day / 60 % 60) as u32, 2);
        out.push(':');
        push_digits(&mut out, (second_of_day % 60) as u32, 2);
        if self.nanos != 0 {
            let (mut fraction, mut width) = (self.nanos, 9);
            while fraction % 10 == 0 {
                fraction /= 10;
                width -= 1;
            }
            out.push('.');
            push_digits(&mut out, fraction, width);
        }
        out.push('Z');
        Some(out)
    }
}

/// Appends `value` as exactly `width` decimal digits (the caller guarantees it fits).
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = value / 10u32.pow(place) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// An RFC 3339 date-time, validated, with the instant it names.
///
/// The text is kept as received (offset, fraction and letter case included) because
/// peers echo it and bind it into the challenge id; the instant is what comparisons
/// use. Two timestamps are equal when their texts are, so `…T12:00:00Z` and
/// `…T13:00:00+01:00` differ even though they name the same instant.
///
/// ```
/// use mpp_core::time::{Timestamp, UnixTime};
///
/// let expires = Timestamp::new("2026-01-29T13:00:00+01:00").unwrap();
/// assert_eq!(expires.unix(), UnixTime::from_secs(1_769_688_000));
/// assert!(!expires.is_expired_at(UnixTime::from_secs(1_769_687_999)));
/// assert!(expires.is_expired_at(UnixTime::from_secs(1_769_688_000)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp<'a> {
    text: Cow<'a, str>,
    unix: UnixTime,
}

impl<'a> Timestamp<'a> {
    /// Validates `text`, borrowing it. The error offset is within `text`.
    pub fn new(text: &'a str) -> Result<Self, ParseError> {
        Self::from_cow(Cow::Borrowed(text))
    }

    /// Validates an owned or borrowed text.
    pub fn from_cow(text: Cow<'a, str>) -> Result<Self, ParseError> {
        let unix = parse(text.as_bytes())?;
        Ok(Timestamp { text, unix })
    }

    /// The text, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant the text names.
    pub const fn unix(&self) -> UnixTime {
        self.unix
    }

    /// Whether a challenge that expires at this timestamp is expired at `now`.
    ///
    /// True from the named instant onwards (`now >= self`, decision D8): an `expires`
    /// is the first instant at which the challenge is no longer valid.
    pub fn is_expired_at(&self, now: UnixTime) -> bool {
        now >= self.unix
    }

    /// A copy that borrows this one's text.
    pub fn borrowed(&self) -> Timestamp<'_> {
        Timestamp {
            text: Cow::Borrowed(&self.text),
            unix: self.unix,
        }
    }

    /// An owned copy that no longer borrows the input.
    pub fn into_owned(self) -> Timestamp<'static> {
        Timestamp {
            text: Cow::Owned(self.text.into_owned()),
            unix: self.unix,
        }
    }
}

impl Timestamp<'static> {
    /// Validates an owned text.
    pub fn from_string(text: String) -> Result<Self, ParseError> {
        Self::from_cow(Cow::Owned(text))
    }

    /// The canonical text of an instant (see [`UnixTime::to_rfc3339`]); `None` outside
    /// the years 0000–9999.
    pub fn from_unix(unix: UnixTime) -> Option<Self> {
        let text = unix.to_rfc3339()?;
        Some(Timestamp {
            text: Cow::Owned(text),
            unix,
        })
    }
}

impl AsRef<str> for Timestamp<'_> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Timestamp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'a> TryFrom<&'a str> for Timestamp<'a> {
    type Error = ParseError;
    fn try_from(text: &'a str) -> Result<Self, ParseError> {
        Self::new(text)
    }
}

impl TryFrom<String> for Timestamp<'static> {
    type Error = ParseError;
    fn try_from(text: String) -> Result<Self, ParseError> {
        Self::from_string(text)
    }
}

// -- calendar arithmetic
//
// Dates are numbered by a day serial in a calendar whose years start on 1 March: the
// leap day then falls on the last day of a year, and the month lengths from March on
// follow the regular pattern 31, 30, 31, 30, 31 that one formula reproduces. Years are
// shifted by 400 (a whole Gregorian cycle, so the calendar is unchanged) to keep every
// serial positive, where integer division is floor division.

const YEAR_SHIFT: i64 = 400;

/// Days before 1 March of shifted year `y`, counted from shifted year 0.
const fn days_before_year(y: i64) -> i64 {
    365 * y + y / 4 - y / 100 + y / 400
}

/// Days from 1 March to the first of month `m` (0 = March, …, 11 = February).
const fn days_before_month(m: i64) -> i64 {
    (153 * m + 2) / 5
}

/// The serial of a valid date of the years 0000–9999.
const fn day_serial(year: i64, month: i64, day: i64) -> i64 {
    let (y, m) = if month > 2 {
        (year, month - 3)
    } else {
        (year - 1, month + 9)
    };
    days_before_year(y + YEAR_SHIFT) + days_before_month(m) + day - 1
}

/// The date `(year, month, day)` of a serial returned by [`day_serial`].
const fn date_of_serial(serial: i64) -> (i64, i64, i64) {
    // The mean year is 146 097 / 400 days, and leap days drift at most two days from
    // that mean, so this guess is the right year or one off either way.
    let mut y = serial * 400 / 146_097;
    if days_before_year(y) > serial {
        y -= 1;
    }
    if days_before_year(y + 1) <= serial {
        y += 1;
    }
    let day_of_year = serial - days_before_year(y);
    let m = (5 * day_of_year + 2) / 153;
    let day = day_of_year - days_before_month(m) + 1;
    let (year, month) = if m < 10 { (y, m + 3) } else { (y + 1, m - 9) };
    (year - YEAR_SHIFT, month, day)
}

const EPOCH_SERIAL: i64 = day_serial(1970, 1, 1);

/// 0000-01-01T00:00:00Z, the first instant RFC 3339 can write.
const MIN_SECS: i64 = (day_serial(0, 1, 1) - EPOCH_SERIAL) * SECS_PER_DAY;

/// 9999-12-31T23:59:59Z, the last whole second RFC 3339 can write.
const MAX_SECS: i64 = (day_serial(9999, 12, 31) - EPOCH_SERIAL + 1) * SECS_PER_DAY - 1;

const fn is_leap_year(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

const fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// -- parsing

struct Cursor<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn error_at(at: usize) -> ParseError {
        ParseError::new(ParseErrorKind::InvalidTimestamp, at)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Consumes one of `allowed`, returning it.
    fn expect(&mut self, allowed: &[u8]) -> Result<u8, ParseError> {
        match self.peek() {
            Some(c) if allowed.contains(&c) => {
                self.pos += 1;
                Ok(c)
            }
            _ => Err(Self::error_at(self.pos)),
        }
    }

    /// Reads exactly `width` digits whose value must lie in `range`. A non-digit is
    /// reported where it stands, a value out of range at the field's first digit.
    fn field(&mut self, width: usize, range: RangeInclusive<u32>) -> Result<u32, ParseError> {
        let start = self.pos;
        let mut value = 0;
        for _ in 0..width {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(c - b'0');
                    self.pos += 1;
                }
                _ => return Err(Self::error_at(self.pos)),
            }
        }
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(Self::error_at(start))
        }
    }
}

fn parse(bytes: &[u8]) -> Result<UnixTime, ParseError> {
    let mut c = Cursor { bytes, pos: 0 };
    let year = c.field(4, 0..=9999)?;
    c.expect(b"-")?;
    let month = c.field(2, 1..=12)?;
    c.expect(b"-")?;
    let day_at = c.pos;
    let day = c.field(2, 1..=31)?;
    if day > days_in_month(year, month) {
        return Err(Cursor::error_at(day_at));
    }
    c.expect(b"Tt")?;
    let hour = c.field(2, 0..=23)?;
    c.expect(b":")?;
    let minute = c.field(2, 0..=59)?;
    c.expect(b":")?;
    let second = c.field(2, 0..=60)?;

    let mut nanos = 0;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let digits_at = c.pos;
        let mut kept = 0;
        while let Some(d @ b'0'..=b'9') = c.peek() {
            if kept < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
                kept += 1;
            }
            c.pos += 1;
        }
        if c.pos == digits_at {
            return Err(Cursor::error_at(c.pos));
        }
        nanos *= 10u32.pow(9 - kept);
    }

    let offset_secs = match c.expect(b"Zz+-")? {
        sign @ (b'+' | b'-') => {
            let sign = if sign == b'-' { -1 } else { 1 };
            let hours = c.field(2, 0..=23)?;
            c.expect(b":")?;
            let minutes = c.field(2, 0..=59)?;
            sign * i64::from(hours * 3600 + minutes * 60)
        }
        _ => 0,
    };
    if c.pos != bytes.len() {
        return Err(Cursor::error_at(c.pos));
    }

    let days = day_serial(i64::from(year), i64::from(month), i64::from(day)) - EPOCH_SERIAL;
    let local =
        days * SECS_PER_DAY + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Ok(UnixTime {
        secs: local - offset_secs,
        nanos,
    })
}

/// Where the layers above the core read the current time: a function, so that tests can
/// set the time. The core itself never calls one (decision D16): its functions take
/// `now` as an argument.
pub type Clock = alloc::sync::Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// A clock set by hand, in whole seconds, shared by its clones: for tests and
/// simulations that move time themselves.
#[derive(Debug, Clone)]
pub struct ManualClock(alloc::sync::Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `now` (whole seconds).
    pub fn new(now: UnixTime) -> ManualClock {
        ManualClock(alloc::sync::Arc::new(AtomicI64::new(now.secs())))
    }

    /// The time it shows.
    pub fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.0.load(Ordering::SeqCst))
    }

    /// Sets the time.
    pub fn set(&self, now: UnixTime) {
        self.0.store(now.secs(), Ordering::SeqCst);
    }

    /// Moves the time forward by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    /// A [`Clock`] reading this one.
    pub fn clock(&self) -> Clock {
        let me = self.clone();
        alloc::sync::Arc::new(move || me.now())
    }
}

#[cfg(feature = "std")]
impl From<std::time::SystemTime> for UnixTime {
    /// The same instant; one before 1970 becomes negative seconds. An instant beyond
    /// the range of `i64` seconds saturates.
    fn from(time: std::time::SystemTime) -> UnixTime {
        let saturate = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX);
        match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => UnixTime {
                secs: saturate(since.as_secs()),
                nanos: since.subsec_nanos(),
            },
            Err(before) => {
                let before = before.duration();
                let secs = saturate(before.as_secs()).saturating_neg();
                match before.subsec_nanos() {
                    0 => UnixTime { secs, nanos: 0 },
                    nanos => UnixTime {
                        secs: secs.saturating_sub(1),
                        nanos: NANOS_PER_SEC - nanos,
                    },
                }
            }
        }
    }
}

/// A [`Clock`] reading the system's time (feature `std`).
#[cfg(feature = "std")]
pub fn system_clock() -> Clock {
    alloc::sync::Arc::new(|| UnixTime::from(std::time::SystemTime::now()))
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "std")]
    #[test]
    fn system_times_convert_on_both_sides_of_the_epoch() {
        use core::time::Duration;
        use std::time::UNIX_EPOCH;
        let after = UNIX_EPOCH + Duration::new(1_769_688_000, 500);
        assert_eq!(
            UnixTime::from(after),
            UnixTime::new(1_769_688_000, 500).unwrap()
        );
        let before = UNIX_EPOCH - Duration::new(2, 250_000_000);
        assert_eq!(
            UnixTime::from(before),
            UnixTime::new(-3, 750_000_000).unwrap()
        );
        assert_eq!(
            UnixTime::from(UNIX_EPOCH - Duration::from_secs(5)),
            UnixTime::from_secs(-5)
        );
    }

    use super::*;
    use alloc::format;
    use proptest::prelude::*;

    #[test]
    fn valid_timestamps_name_the_right_instant() {
        // req: core.grammar.expires.rfc3339
        for (text, secs, nanos) in [
            ("1970-01-01T00:00:00Z", 0, 0),
            ("2026-01-29T12:00:00Z", 1_769_688_000, 0),
            ("2026-01-29t12:00:00z", 1_769_688_000, 0),
            ("2026-01-29T13:00:00+01:00", 1_769_688_000, 0),
            ("2026-01-29T06:30:00-05:30", 1_769_688_000, 0),
            ("2026-01-29T12:00:00-00:00", 1_769_688_000, 0),
            ("2000-03-01T00:00:00+01:00", 951_865_200, 0),
            ("2026-01-29T12:00:00.000Z", 1_769_688_000, 0),
            ("2026-01-29T12:00:00.5Z", 1_769_688_000, 500_000_000),
            ("2026-01-29T12:00:00.123456789Z", 1_769_688_000, 123_456_789),
            // Digits past the ninth are truncated, not rounded.
            (
                "2026-01-29T12:00:00.9999999999999Z",
                1_769_688_000,
                999_999_999,
            ),
            ("1969-12-31T23:59:59.25Z", -1, 250_000_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800, 0),
            ("2000-02-29T00:00:00Z", 951_782_400, 0),
            // A leap second is the next minute's first second.
            ("2016-12-31T23:59:60Z", 1_483_228_800, 0),
            ("2017-01-01T00:00:00Z", 1_483_228_800, 0),
            ("0000-01-01T00:00:00Z", -62_167_219_200, 0),
            ("0000-02-29T00:00:00Z", -62_162_121_600, 0),
            ("9999-12-31T23:59:59Z", 253_402_300_799, 0),
            ("9999-12-31T23:59:59+23:59", 253_402_214_459, 0),
            ("0000-01-01T00:00:00-23:59", -62_167_132_860, 0),
        ] {
            let t = Timestamp::new(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(t.unix(), UnixTime::new(secs, nanos).unwrap(), "{text}");
            assert_eq!(t.as_str(), text);
        }
    }

    #[test]
    fn invalid_timestamps_are_refused_at_the_offending_byte() {
        // req: core.grammar.expires.rfc3339
        for (text, at) in [
            ("", 0),
            ("2026-01-29", 10),
            ("2026-01-29 12:00:00Z", 10),
            ("2026-01-29T12:00:00", 19),
            ("2026-01-29T12:00:00+0000", 22),
            ("2026-01-29T12:00:00+00", 22),
            ("2026-01-29T12:00:00+24:00", 20),
            ("2026-01-29T12:00:00+00:60", 23),
            ("2026-01-29T24:00:00Z", 11),
            ("2026-01-29T12:60:00Z", 14),
            ("2026-01-29T12:00:61Z", 17),
            ("2026-02-29T00:00:00Z", 8),
            ("1900-02-29T00:00:00Z", 8),
            ("2026-04-31T00:00:00Z", 8),
            ("2026-00-10T00:00:00Z", 5),
            ("2026-13-10T00:00:00Z", 5),
            ("2026-01-00T00:00:00Z", 8),
            ("2026-01-29T12:00:00Zjunk", 20),
            ("2026-01-29T12:00:00Z ", 20),
            (" 2026-01-29T12:00:00Z", 0),
            ("2026-01-29T12:00:00.Z", 20),
            ("2026-01-29T12:00:00,5Z", 19),
            ("2026-01-29T12:00:00.5x5Z", 21),
            ("26-01-29T12:00:00Z", 2),
            ("+2026-01-29T12:00:00Z", 0),
            ("12026-01-29T12:00:00Z", 4),
            ("2026-1-29T12:00:00Z", 6),
            ("2026-01-29T1:00:00Z", 12),
            ("2026/01/29T12:00:00Z", 4),
            ("2026-01-29T12:00:00UTC", 19),
            ("2026-01-29T12:00:00+01:00Z", 25),
            ("２０２６-01-29T12:00:00Z", 0),
        ] {
            let e = Timestamp::new(text).unwrap_err();
            assert_eq!(
                (e.kind(), e.offset()),
                (ParseErrorKind::InvalidTimestamp, at),
                "{text}"
            );
        }
    }

    #[test]
    fn expiry_starts_at_the_named_instant() {
        // req: charge.verify.expiry
        let t = Timestamp::new("2026-01-29T12:00:00.5Z").unwrap();
        let at = t.unix();
        assert!(t.is_expired_at(at));
        assert!(t.is_expired_at(UnixTime::from_secs(1_769_688_001)));
        assert!(!t.is_expired_at(UnixTime::new(1_769_688_000, 499_999_999).unwrap()));
        assert!(!t.is_expired_at(UnixTime::from_secs(1_769_688_000)));
    }

    #[test]
    fn unix_time_accessors_and_arithmetic() {
        assert_eq!(UnixTime::new(1, NANOS_PER_SEC), None);
        let t = UnixTime::new(-5, 7).unwrap();
        assert_eq!((t.secs(), t.nanos()), (-5, 7));
        assert_eq!(t.checked_add_secs(300), UnixTime::new(295, 7));
        assert_eq!(UnixTime::from_secs(i64::MAX).checked_add_secs(1), None);
        assert_eq!(
            UnixTime::from_secs(i64::MIN).checked_add_secs(u64::MAX),
            None
        );
        assert_eq!(
            UnixTime::from_secs(i64::MIN).checked_add_secs(i64::MAX as u64),
            Some(UnixTime::from_secs(-1))
        );
        assert!(UnixTime::new(0, 1).unwrap() > UnixTime::from_secs(0));
        assert!(UnixTime::new(-1, 999_999_999).unwrap() < UnixTime::from_secs(0));
    }

    #[test]
    fn formatting_is_canonical_utc_and_bounded_to_four_digit_years() {
        for (secs, nanos, text) in [
            (0, 0, "1970-01-01T00:00:00Z"),
            (1_769_688_000, 0, "2026-01-29T12:00:00Z"),
            (1_769_688_000, 1, "2026-01-29T12:00:00.000000001Z"),
            (1_769_688_000, 120_000_000, "2026-01-29T12:00:00.12Z"),
            (-1, 0, "1969-12-31T23:59:59Z"),
            (MIN_SECS, 0, "0000-01-01T00:00:00Z"),
            (MAX_SECS, 999_999_999, "9999-12-31T23:59:59.999999999Z"),
        ] {
            let t = UnixTime::new(secs, nanos).unwrap();
            assert_eq!(t.to_rfc3339().as_deref(), Some(text));
            let ts = Timestamp::from_unix(t).unwrap();
            assert_eq!((ts.as_str(), ts.unix()), (text, t));
        }
        for secs in [MIN_SECS - 1, MAX_SECS + 1, i64::MIN, i64::MAX] {
            assert_eq!(UnixTime::from_secs(secs).to_rfc3339(), None);
            assert_eq!(Timestamp::from_unix(UnixTime::from_secs(secs)), None);
        }
    }

    #[test]
    fn every_day_of_the_range_survives_the_calendar_round_trip() {
        let mut expected = day_serial(0, 1, 1);
        for year in 0..=9999u32 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    let (y, m, d) = (i64::from(year), i64::from(month), i64::from(day));
                    let serial = day_serial(y, m, d);
                    assert_eq!(serial, expected, "{year}-{month}-{day}");
                    assert_eq!(date_of_serial(serial), (y, m, d));
                    expected += 1;
                }
            }
        }
    }

    #[test]
    fn owned_and_borrowed_forms_agree() {
        let text = "2026-01-29T13:00:00+01:00";
        let borrowed = Timestamp::new(text).unwrap();
        let owned = Timestamp::from_string(text.into()).unwrap();
        assert_eq!(borrowed, owned);
        assert_eq!(borrowed.clone().into_owned(), owned);
        assert_eq!(format!("{owned}"), text);
        assert_eq!(owned.as_ref(), text);
        assert_eq!(Timestamp::try_from(text), Ok(borrowed));
        // Same instant, different text: not equal.
        let utc = Timestamp::new("2026-01-29T12:00:00Z").unwrap();
        assert_eq!(utc.unix(), owned.unix());
        assert_ne!(utc, owned);
        assert!(Timestamp::try_from(alloc::string::String::from("x")).is_err());
    }

    #[test]
    fn long_fractions_parse_in_linear_time() {
        let text = format!("2026-01-29T12:00:00.{}Z", "1".repeat(1 << 20));
        assert_eq!(Timestamp::new(&text).unwrap().unix().nanos(), 111_111_111);
        let bad = format!("2026-01-29T12:00:00.{}", "1".repeat(1 << 20));
        assert_eq!(Timestamp::new(&bad).unwrap_err().offset(), bad.len());
    }

    proptest! {
        #[test]
        fn formatted_instants_parse_back(secs in MIN_SECS..=MAX_SECS, nanos in 0..NANOS_PER_SEC) {
            let t = UnixTime::new(secs, nanos).unwrap();
            let text = t.to_rfc3339().unwrap();
            prop_assert_eq!(Timestamp::new(&text).unwrap().unix(), t);
        }

        #[test]
        fn offsets_shift_the_instant(secs in MIN_SECS + 86_400..=MAX_SECS - 86_400, hours in 0u32..24, minutes in 0u32..60, east in any::<bool>()) {
            let shift = i64::from(hours * 3600 + minutes * 60);
            let local = UnixTime::from_secs(if east { secs + shift } else { secs - shift });
            let utc = local.to_rfc3339().unwrap();
            let sign = if east { '+' } else { '-' };
            let text = format!("{}{sign}{hours:02}:{minutes:02}", &utc[..utc.len() - 1]);
            prop_assert_eq!(Timestamp::new(&text).unwrap().unix(), UnixTime::from_secs(secs));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = Timestamp::new(&text);
        }

        #[test]
        fn near_misses_never_panic(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?") {
            if let Ok(t) = Timestamp::new(&text) {
                prop_assert!((MIN_SECS - 86_400..=MAX_SECS + 86_400).contains(&t.unix().secs()));
            }
        }
    }
}
