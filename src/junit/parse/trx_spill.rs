//! TRX results held until the file's definitions are read: the newest few
//! thousand in memory, the rest spilled in order to an anonymous temporary
//! file, so memory stays bounded whatever the number of results.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

use crate::junit::model::Outcome;

/// One TRX `<UnitTestResult>`, held until the definitions have been read.
pub(super) struct TrxResult {
    /// The hash of the id its definition is found by.
    pub(super) key: u128,
    pub(super) name: String,
    pub(super) outcome: Outcome,
    pub(super) time: Option<f64>,
    pub(super) message: Option<Box<str>>,
    pub(super) detail: Option<Box<str>>,
}

/// Results kept in memory before they go to the spill file.
const IN_MEMORY: usize = 4096;

#[derive(Default)]
pub(super) struct Held {
    memory: Vec<TrxResult>,
    spill: Option<BufWriter<File>>,
}

impl Held {
    pub(super) fn push(&mut self, r: TrxResult) -> io::Result<()> {
        self.memory.push(r);
        if self.memory.len() >= IN_MEMORY {
            let out = match &mut self.spill {
                Some(out) => out,
                None => self
                    .spill
                    .insert(BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?)),
            };
            for r in self.memory.drain(..) {
                write(out, &r)?;
            }
        }
        Ok(())
    }

    /// Every result, in the order pushed.
    pub(super) fn drain(self, each: &mut dyn FnMut(TrxResult)) -> io::Result<()> {
        if let Some(out) = self.spill {
            let mut file = out.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            let mut input = BufReader::with_capacity(64 * 1024, file);
            while let Some(r) = read(&mut input)? {
                each(r);
            }
        }
        for r in self.memory {
            each(r);
        }
        Ok(())
    }
}

fn outcome_byte(o: Outcome) -> u8 {
    match o {
        Outcome::Passed => 0,
        Outcome::Failed => 1,
        Outcome::Errored => 2,
        Outcome::Skipped => 3,
    }
}

fn write(out: &mut impl Write, r: &TrxResult) -> io::Result<()> {
    out.write_all(&r.key.to_le_bytes())?;
    out.write_all(&[outcome_byte(r.outcome), u8::from(r.time.is_some())])?;
    out.write_all(&r.time.unwrap_or(0.0).to_le_bytes())?;
    for text in [
        Some(r.name.as_str()),
        r.message.as_deref(),
        r.detail.as_deref(),
    ] {
        match text {
            Some(t) => {
                out.write_all(&u32::try_from(t.len()).unwrap_or(u32::MAX - 1).to_le_bytes())?;
                out.write_all(t.as_bytes())?;
            }
            None => out.write_all(&u32::MAX.to_le_bytes())?,
        }
    }
    Ok(())
}

fn read(input: &mut impl Read) -> io::Result<Option<TrxResult>> {
    let mut key = [0u8; 16];
    match input.read_exact(&mut key) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut head = [0u8; 10];
    input.read_exact(&mut head)?;
    let outcome = match head[0] {
        0 => Outcome::Passed,
        1 => Outcome::Failed,
        2 => Outcome::Errored,
        _ => Outcome::Skipped,
    };
    let time = (head[1] == 1).then(|| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&head[2..10]);
        f64::from_le_bytes(b)
    });
    let mut text = || -> io::Result<Option<String>> {
        let mut len = [0u8; 4];
        input.read_exact(&mut len)?;
        let len = u32::from_le_bytes(len);
        if len == u32::MAX {
            return Ok(None);
        }
        let mut bytes = vec![0; len as usize];
        input.read_exact(&mut bytes)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let name = text()?.unwrap_or_default();
    let message = text()?.map(String::into_boxed_str);
    let detail = text()?.map(String::into_boxed_str);
    Ok(Some(TrxResult {
        key: u128::from_le_bytes(key),
        name,
        outcome,
        time,
        message,
        detail,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_results_come_back_in_order_and_whole() {
        let mut held = Held::default();
        let n = IN_MEMORY * 2 + 7;
        for i in 0..n {
            held.push(TrxResult {
                key: i as u128 * 7,
                name: format!("test é {i}"),
                outcome: [
                    Outcome::Passed,
                    Outcome::Failed,
                    Outcome::Errored,
                    Outcome::Skipped,
                ][i % 4],
                time: (i % 3 != 0).then_some(i as f64 / 8.0),
                message: (i % 4 == 1).then(|| format!("m{i}").into_boxed_str()),
                detail: (i % 8 == 1).then(|| "at x.cs:line 3".into()),
            })
            .unwrap();
        }
        assert!(held.spill.is_some());
        let mut seen = 0;
        held.drain(&mut |r| {
            let i = seen;
            assert_eq!(r.key, i as u128 * 7);
            assert_eq!(r.name, format!("test é {i}"));
            assert_eq!(r.time, (i % 3 != 0).then_some(i as f64 / 8.0));
            assert_eq!(
                r.message.as_deref(),
                (i % 4 == 1).then(|| format!("m{i}")).as_deref()
            );
            assert_eq!(r.detail.is_some(), i % 8 == 1);
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, n);
    }
}
