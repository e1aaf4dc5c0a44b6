//! The durable local spool: a write-ahead outbox of records (one per event
//! and sink) and an ack log of what was delivered.
//!
//! Both files are append-only. Each starts with a 12-byte header (magic and
//! format version) and holds frames `[magic:4][len:u32 LE][crc32:u32 LE][payload]`
//! whose payload is one JSON value. Appends are fsync'd before anything is
//! sent, so a record survives `kill -9` or a power cut at any instant. On
//! open a torn tail (a writer killed mid-append) is detected by its length or
//! checksum and cut off; a damaged frame in the middle is skipped by scanning
//! to the next valid frame, so earlier and later records are never lost.
//! Compaction writes the still-pending records to a temporary file, fsyncs
//! it and renames it over the log: a crash leaves the old or the new file,
//! both consistent with the ack log. An exclusive `flock` on `lock`
//! serializes processes sharing one spool.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SinkEvent;

/// The format this version writes and reads. A spool with a higher version
/// was written by a newer dorameter: it is left untouched.
pub const FORMAT_VERSION: u32 = 1;
pub const EVENTS_FILE: &str = "events.log";
pub const ACKS_FILE: &str = "acks.log";
const LOCK_FILE: &str = "lock";
const EVENTS_MAGIC: &[u8; 8] = b"DMSPOOL\n";
const ACKS_MAGIC: &[u8; 8] = b"DMSPACK\n";
const HEADER_LEN: usize = 12;
const FRAME_MAGIC: [u8; 4] = [0xD0, 0x5A, 0x11, 0xE7];
const FRAME_LEN: usize = 12;
const MAX_PAYLOAD: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("failed to use the spool at {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the spool {path} was written by a newer dorameter (format {found}; this version reads up to {supported}); nothing was changed"
    )]
    NewerVersion {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("{path} is not a dorameter spool file")]
    NotASpool { path: String },
}

impl SpoolError {
    pub fn is_usage(&self) -> bool {
        !matches!(self, SpoolError::Io { .. })
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            SpoolError::NewerVersion { .. } => Some(
                "upgrade dorameter (or run `dorameter flush` with the newer version), or point DORAMETER_SPOOL at another directory".into(),
            ),
            SpoolError::NotASpool { .. } => {
                Some("point DORAMETER_SPOOL at a directory used only by dorameter".into())
            }
            SpoolError::Io { .. } => Some("check the permissions and free space of the spool directory (DORAMETER_SPOOL)".into()),
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One event waiting for one sink.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// [`super::SinkSpec::key`]: redacted URL and a digest, never a secret.
    pub sink: String,
    /// [`SinkEvent::revision`].
    pub rev: String,
    pub spooled_at: DateTime<Utc>,
    pub event: SinkEvent,
}

impl Record {
    pub fn new(sink: String, event: SinkEvent, now: DateTime<Utc>) -> Record {
        Record {
            sink,
            rev: event.revision(),
            spooled_at: now,
            event,
        }
    }

    /// The delivery identity: at most one delivery per key from one spool.
    pub fn key(&self) -> String {
        format!(
            "{}\n{}:{}\n{}",
            self.sink,
            self.event.kind(),
            self.event.id(),
            self.rev
        )
    }

    /// Revisions of one event for one sink share a slot; only the newest is sent.
    pub fn slot(&self) -> String {
        format!("{}\n{}:{}", self.sink, self.event.kind(), self.event.id())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckOutcome {
    Delivered,
    /// A newer revision of the same event replaced it.
    Superseded,
    /// The sink does not take this kind of event.
    Skipped,
}

#[derive(Serialize, Deserialize)]
struct Ack {
    key: String,
    outcome: AckOutcome,
}

/// What opening found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Health {
    /// Damaged frames skipped (never expected; kept for inspection).
    pub corrupt_records: u64,
    /// Bytes of a torn tail cut off (a writer killed mid-append).
    pub repaired_bytes: u64,
    /// Frames whose JSON this version cannot read; kept, never dropped.
    pub unreadable_records: u64,
}

/// An open, locked spool.
pub struct Spool {
    dir: PathBuf,
    events: File,
    acks: File,
    _lock: File,
    /// Pending records in append order, with their raw payloads.
    pending: Vec<(Record, Vec<u8>)>,
    /// Payloads this version cannot decode: carried over by compaction.
    unreadable: Vec<Vec<u8>>,
    acked: HashSet<String>,
    /// Frames in events.log, delivered or not.
    frames: usize,
    unsynced_acks: usize,
    pub health: Health,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, waiting for other processes.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock_exclusive(&lock).map_err(io(&lock_path))?;

        let mut health = Health::default();
        let events_path = dir.join(EVENTS_FILE);
        let acks_path = dir.join(ACKS_FILE);
        let (events, event_payloads) = open_log(dir, &events_path, EVENTS_MAGIC, &mut health)?;
        let (acks, ack_payloads) = open_log(dir, &acks_path, ACKS_MAGIC, &mut health)?;

        let mut acked = HashSet::with_capacity(ack_payloads.len());
        for p in &ack_payloads {
            match serde_json::from_slice::<Ack>(p) {
                Ok(a) => {
                    acked.insert(a.key);
                }
                Err(_) => health.unreadable_records += 1,
            }
        }
        let frames = event_payloads.len();
        let mut pending = Vec::new();
        let mut unreadable = Vec::new();
        for p in event_payloads {
            match serde_json::from_slice::<Record>(&p) {
                Ok(r) if acked.contains(&r.key()) => {}
                Ok(r) => pending.push((r, p)),
                Err(_) => {
                    health.unreadable_records += 1;
                    unreadable.push(p);
                }
            }
        }
        Ok(Spool {
            dir: dir.to_path_buf(),
            events,
            acks,
            _lock: lock,
            pending,
            unreadable,
            acked,
            frames,
            unsynced_acks: 0,
            health,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records not delivered yet, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &Record> {
        self.pending.iter().map(|(r, _)| r)
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_acked(&self, key: &str) -> bool {
        self.acked.contains(key)
    }

    /// Appends `records` (skipping any already pending or delivered) in one
    /// write and fsyncs. Returns how many were appended.
    pub fn append(&mut self, records: Vec<Record>) -> Result<usize, SpoolError> {
        let known: HashSet<String> = self.pending.iter().map(|(r, _)| r.key()).collect();
        let mut buf = Vec::new();
        let mut added = Vec::new();
        for r in records {
            let key = r.key();
            if self.acked.contains(&key)
                || known.contains(&key)
                || added
                    .iter()
                    .any(|(a, _): &(Record, Vec<u8>)| a.key() == key)
            {
                continue;
            }
            let payload = serde_json::to_vec(&r).unwrap_or_default();
            frame(&mut buf, &payload);
            added.push((r, payload));
        }
        if added.is_empty() {
            return Ok(0);
        }
        let path = self.dir.join(EVENTS_FILE);
        self.events.write_all(&buf).map_err(io(&path))?;
        self.events.sync_data().map_err(io(&path))?;
        let n = added.len();
        self.frames += n;
        self.pending.extend(added);
        Ok(n)
    }

    /// Records `key` as done. Written at once (a killed process keeps it: the
    /// page cache outlives the process) and fsync'd in groups by [`Spool::sync`].
    pub fn ack(&mut self, key: &str, outcome: AckOutcome) -> Result<(), SpoolError> {
        if !self.acked.insert(key.to_string()) {
            return Ok(());
        }
        let payload = serde_json::to_vec(&Ack {
            key: key.to_string(),
            outcome,
        })
        .unwrap_or_default();
        let mut buf = Vec::with_capacity(payload.len() + FRAME_LEN);
        frame(&mut buf, &payload);
        let path = self.dir.join(ACKS_FILE);
        self.acks.write_all(&buf).map_err(io(&path))?;
        self.unsynced_acks += 1;
        if self.unsynced_acks >= 512 {
            self.sync()?;
        }
        Ok(())
    }

    /// fsyncs the ack log.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if self.unsynced_acks > 0 {
            let path = self.dir.join(ACKS_FILE);
            self.acks.sync_data().map_err(io(&path))?;
            self.unsynced_acks = 0;
        }
        Ok(())
    }

    /// Drops acknowledged records from memory and, when enough of the log is
    /// dead, rewrites it with only the pending ones (atomically).
    pub fn compact(&mut self) -> Result<(), SpoolError> {
        self.sync()?;
        let acked = &self.acked;
        self.pending.retain(|(r, _)| !acked.contains(&r.key()));
        let live = self.pending.len() + self.unreadable.len();
        let dead = self.frames.saturating_sub(live);
        if dead == 0 || (live > 0 && dead < 256 && dead < live) {
            return Ok(());
        }
        self.rewrite()
    }

    /// Removes the pending records `doomed` picks (`flush --drop`: a sink
    /// that no longer exists), rewriting the log at once, atomically. No
    /// acknowledgement is written: the records are gone from the log, so no
    /// version of dorameter can send them later. Returns how many.
    pub fn discard(&mut self, doomed: &dyn Fn(&Record) -> bool) -> Result<usize, SpoolError> {
        self.sync()?;
        let acked = &self.acked;
        self.pending.retain(|(r, _)| !acked.contains(&r.key()));
        let before = self.pending.len();
        self.pending.retain(|(r, _)| !doomed(r));
        let gone = before - self.pending.len();
        if gone > 0 {
            self.rewrite()?;
        }
        Ok(gone)
    }

    /// Writes the pending (and unreadable) records to a new log, fsyncs it
    /// and renames it over the old one.
    fn rewrite(&mut self) -> Result<(), SpoolError> {
        let live = self.pending.len() + self.unreadable.len();
        let path = self.dir.join(EVENTS_FILE);
        let tmp = self.dir.join("events.log.tmp");
        let mut buf = Vec::new();
        buf.extend_from_slice(EVENTS_MAGIC);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        for p in self
            .pending
            .iter()
            .map(|(_, p)| p)
            .chain(self.unreadable.iter())
        {
            frame(&mut buf, p);
        }
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&buf).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.dir).map_err(io(&self.dir))?;
        self.events = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        self.frames = live;
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

#[cfg(unix)]
fn lock_exclusive(f: &File) -> std::io::Result<()> {
    rustix::fs::flock(f, rustix::fs::FlockOperation::LockExclusive).map_err(std::io::Error::from)
}

#[cfg(not(unix))]
fn lock_exclusive(_f: &File) -> std::io::Result<()> {
    // No advisory lock here: one dorameter process per spool on this platform.
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

fn frame(buf: &mut Vec<u8>, payload: &[u8]) {
    buf.extend_from_slice(&FRAME_MAGIC);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Opens one log for reading and appending: checks the header, reads every
/// valid frame and cuts off a torn tail.
fn open_log(
    dir: &Path,
    path: &Path,
    magic: &[u8; 8],
    health: &mut Health,
) -> Result<(File, Vec<Vec<u8>>), SpoolError> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io(path))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io(path))?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(magic);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    if bytes.len() < HEADER_LEN {
        // New, or its creation was torn: nothing but (part of) a header.
        if !magic.starts_with(&bytes[..bytes.len().min(8)]) {
            return Err(SpoolError::NotASpool {
                path: path.display().to_string(),
            });
        }
        file.set_len(0).map_err(io(path))?;
        file.write_all(&header).map_err(io(path))?;
        file.sync_all().map_err(io(path))?;
        sync_dir(dir).map_err(io(dir))?;
        return Ok((file, Vec::new()));
    }
    if &bytes[..8] != magic {
        return Err(SpoolError::NotASpool {
            path: path.display().to_string(),
        });
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        return Err(SpoolError::NewerVersion {
            path: path.display().to_string(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let parsed = parse_frames(&bytes, HEADER_LEN);
    health.corrupt_records += parsed.corrupt;
    if parsed.valid_end < bytes.len() {
        health.repaired_bytes += (bytes.len() - parsed.valid_end) as u64;
        file.set_len(parsed.valid_end as u64).map_err(io(path))?;
        file.sync_all().map_err(io(path))?;
    }
    let payloads = parsed
        .frames
        .into_iter()
        .map(|(a, b)| bytes[a..b].to_vec())
        .collect();
    Ok((file, payloads))
}

struct Parsed {
    frames: Vec<(usize, usize)>,
    valid_end: usize,
    corrupt: u64,
}

/// The payload range of a valid frame at `pos`, and where the next begins.
fn frame_at(bytes: &[u8], pos: usize) -> Option<((usize, usize), usize)> {
    let head = bytes.get(pos..pos + FRAME_LEN)?;
    if head[..4] != FRAME_MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(head[8..12].try_into().ok()?);
    if len > MAX_PAYLOAD {
        return None;
    }
    let start = pos + FRAME_LEN;
    let payload = bytes.get(start..start + len)?;
    (crc32(payload) == crc).then_some(((start, start + len), start + len))
}

fn parse_frames(bytes: &[u8], start: usize) -> Parsed {
    let mut p = Parsed {
        frames: Vec::new(),
        valid_end: start,
        corrupt: 0,
    };
    let mut pos = start;
    while pos < bytes.len() {
        if let Some((range, next)) = frame_at(bytes, pos) {
            p.frames.push(range);
            pos = next;
            p.valid_end = next;
            continue;
        }
        // Resynchronize on the next frame that checks out; none means the
        // rest is a torn tail.
        let found = memchr::memmem::find_iter(&bytes[pos + 1..], &FRAME_MAGIC)
            .map(|off| pos + 1 + off)
            .find(|&cand| frame_at(bytes, cand).is_some());
        match found {
            Some(next) => {
                p.corrupt += 1;
                pos = next;
            }
            None => break,
        }
    }
    p
}

/// CRC-32 (IEEE 802.3), table driven.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Incident, IncidentCause};

    fn incident(id: &str) -> SinkEvent {
        SinkEvent::Incident(Incident {
            id: id.into(),
            services: vec!["api".into()],
            env: "production".into(),
            started_at: DateTime::from_timestamp(1_770_000_000, 0).unwrap(),
            detected_at: None,
            resolved_at: None,
            severity: None,
            title: Some("x".repeat(50)),
            cause: IncidentCause::Unknown,
            deployment_id: None,
            deployment_sha: None,
        })
    }

    fn rec(id: &str) -> Record {
        Record::new(
            "webhook:http://h#00000000".into(),
            incident(id),
            DateTime::from_timestamp(1_770_000_000, 0).unwrap(),
        )
    }

    fn ids(s: &Spool) -> Vec<String> {
        s.pending().map(|r| r.event.id().to_string()).collect()
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn append_ack_reopen_and_compact() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Spool::open(dir.path()).unwrap();
            assert_eq!(s.append(vec![rec("a"), rec("b"), rec("a")]).unwrap(), 2);
            assert_eq!(s.append(vec![rec("b")]).unwrap(), 0);
            let key = rec("a").key();
            s.ack(&key, AckOutcome::Delivered).unwrap();
        }
        let mut s = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&s), ["b"]);
        // An acknowledged record is never spooled again.
        assert_eq!(s.append(vec![rec("a")]).unwrap(), 0);
        s.ack(&rec("b").key(), AckOutcome::Delivered).unwrap();
        s.compact().unwrap();
        drop(s);
        let len = fs::metadata(dir.path().join(EVENTS_FILE)).unwrap().len();
        assert_eq!(len, HEADER_LEN as u64);
        let s = Spool::open(dir.path()).unwrap();
        assert_eq!(s.pending_len(), 0);
        assert!(s.is_acked(&rec("a").key()));
    }

    #[test]
    fn torn_tails_are_cut_at_every_length() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Spool::open(dir.path()).unwrap();
            s.append(vec![rec("a"), rec("b")]).unwrap();
        }
        let path = dir.path().join(EVENTS_FILE);
        let good = fs::read(&path).unwrap();
        let mut one = Vec::new();
        frame(&mut one, &serde_json::to_vec(&rec("c")).unwrap());
        for cut in 0..one.len() {
            let mut bytes = good.clone();
            bytes.extend_from_slice(&one[..cut]);
            fs::write(&path, &bytes).unwrap();
            let mut s = Spool::open(dir.path()).unwrap();
            assert_eq!(ids(&s), ["a", "b"], "cut at {cut}");
            assert_eq!(s.health.corrupt_records, 0);
            assert_eq!(s.health.repaired_bytes, cut as u64);
            // Appending after a repaired tail leaves a clean log.
            s.append(vec![rec("d")]).unwrap();
            drop(s);
            let s = Spool::open(dir.path()).unwrap();
            assert_eq!(ids(&s), ["a", "b", "d"], "cut at {cut}");
            fs::write(&path, &good).unwrap();
        }
    }

    #[test]
    fn a_damaged_middle_frame_is_skipped_not_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Spool::open(dir.path()).unwrap();
            s.append(vec![rec("a"), rec("b"), rec("c")]).unwrap();
        }
        let path = dir.path().join(EVENTS_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let second = HEADER_LEN + (bytes.len() - HEADER_LEN) / 3 + 30;
        bytes[second] ^= 0xFF;
        fs::write(&path, &bytes).unwrap();
        let s = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&s), ["a", "c"]);
        assert_eq!(s.health.corrupt_records, 1);
    }

    #[test]
    fn discarded_records_are_gone_from_the_log_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let other = |id: &str| {
            let mut r = rec(id);
            r.sink = "webhook:http://old#11111111".into();
            r
        };
        {
            let mut s = Spool::open(dir.path()).unwrap();
            s.append(vec![rec("a"), other("b"), other("c"), rec("d")])
                .unwrap();
            let gone = s
                .discard(&|r| r.sink.starts_with("webhook:http://old#"))
                .unwrap();
            assert_eq!(gone, 2);
            assert_eq!(ids(&s), ["a", "d"]);
            assert_eq!(s.discard(&|_| false).unwrap(), 0);
        }
        let s = Spool::open(dir.path()).unwrap();
        assert_eq!(ids(&s), ["a", "d"]);
        let bytes = fs::read(dir.path().join(EVENTS_FILE)).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("http://old"));
    }

    #[test]
    fn a_newer_format_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS_FILE);
        let mut bytes = EVENTS_MAGIC.to_vec();
        bytes.extend_from_slice(&2u32.to_le_bytes());
        bytes.extend_from_slice(b"future records");
        fs::write(&path, &bytes).unwrap();
        let err = Spool::open(dir.path()).err().unwrap();
        assert!(
            matches!(err, SpoolError::NewerVersion { found: 2, .. }),
            "{err}"
        );
        assert_eq!(fs::read(&path).unwrap(), bytes);
        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join(EVENTS_FILE), b"hello world, not a spool").unwrap();
        assert!(matches!(
            Spool::open(other.path()),
            Err(SpoolError::NotASpool { .. })
        ));
    }
}
