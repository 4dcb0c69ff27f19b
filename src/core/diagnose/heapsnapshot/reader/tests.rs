//! The reader on small inputs: integer arrays signed and not, strings and their escapes,
//! skipping and capturing values, and tokens that straddle a buffer refill.

use super::*;

fn reader(s: &str) -> Reader<'static, &[u8]> {
    Reader::new(s.as_bytes())
}

fn ints(s: &str) -> std::result::Result<Vec<u64>, SnapshotError> {
    let mut out = Vec::new();
    reader(s).integer_array("test", |batch| {
        out.extend_from_slice(batch);
        Ok(())
    })?;
    Ok(out)
}

fn signed(s: &str) -> std::result::Result<Vec<i64>, SnapshotError> {
    let mut out = Vec::new();
    reader(s).signed_integer_array("test", |v| {
        out.push(v);
        Ok(())
    })?;
    Ok(out)
}

#[test]
fn signed_integer_arrays() {
    assert_eq!(signed("[]").unwrap(), Vec::<i64>::new());
    assert_eq!(signed(" [ -1 ,\n2,30 ] ").unwrap(), vec![-1, 2, 30]);
    let max = MAX_INTEGER as i64;
    assert_eq!(
        signed("[-9007199254740991,9007199254740991]").unwrap(),
        vec![-max, max]
    );
    assert_eq!(
        signed("[-9007199254740992]").unwrap_err().kind,
        SnapshotErrorKind::Malformed
    );
    assert_eq!(signed("[1,-]").unwrap_err().offset, 4);
    for bad in ["[-]", "[- 1]", "[1.5]", "[1,]", "[1 2]", "[\"1\"]", "[--1]"] {
        assert_eq!(
            signed(bad).unwrap_err().kind,
            SnapshotErrorKind::Malformed,
            "{bad}"
        );
    }
    for cut in ["[1,2", "[-12", "[-", "["] {
        assert_eq!(
            signed(cut).unwrap_err().kind,
            SnapshotErrorKind::Truncated,
            "{cut}"
        );
    }
}

#[test]
fn integer_arrays() {
    assert_eq!(ints("[]").unwrap(), Vec::<u64>::new());
    assert_eq!(ints(" [ 1 ,\n2,30 ] ").unwrap(), vec![1, 2, 30]);
    assert_eq!(ints("[9007199254740991]").unwrap(), vec![MAX_INTEGER]);
    let e = ints("[9007199254740992]").unwrap_err();
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    let e = ints("[99999999999999999999999999]").unwrap_err();
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    assert_eq!(ints("[1,-2]").unwrap_err().offset, 3);
    assert_eq!(
        ints("[1.5]").unwrap_err().kind,
        SnapshotErrorKind::Malformed
    );
    assert_eq!(
        ints("[1e3]").unwrap_err().kind,
        SnapshotErrorKind::Malformed
    );
    assert_eq!(ints("[1,]").unwrap_err().kind, SnapshotErrorKind::Malformed);
    assert_eq!(
        ints("[1 2]").unwrap_err().kind,
        SnapshotErrorKind::Malformed
    );
    assert_eq!(
        ints("[\"1\"]").unwrap_err().kind,
        SnapshotErrorKind::Malformed
    );
    assert_eq!(ints("[1,2").unwrap_err().kind, SnapshotErrorKind::Truncated);
    assert_eq!(ints("[12").unwrap_err().kind, SnapshotErrorKind::Truncated);
}

#[test]
fn sink_problems_carry_the_value_offset() {
    let e = reader("[1, 22]")
        .integer_array("test", |batch| match batch.iter().position(|&v| v > 9) {
            Some(i) => Err((i, Problem::malformed("too big"))),
            None => Ok(()),
        })
        .unwrap_err();
    assert_eq!(e.offset, 4);
    assert_eq!(e.message, "too big");
}

#[test]
fn strings_unescape() {
    let mut out = Vec::new();
    reader(r#""a\"b\\c\n\u00e9\ud83d\ude00\ud800x""#)
        .string_into(&mut out, "test")
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "a\"b\\c\né😀\u{FFFD}x");
    let mut out = Vec::new();
    let e = reader("\"ab\u{1}\"")
        .string_into(&mut out, "t")
        .unwrap_err();
    assert_eq!((e.kind, e.offset), (SnapshotErrorKind::Malformed, 3));
    let e = reader("\"ab").string_into(&mut out, "t").unwrap_err();
    assert_eq!(e.kind, SnapshotErrorKind::Truncated);
    let e = reader(r#""\q""#).string_into(&mut out, "t").unwrap_err();
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
}

#[test]
fn skipping_and_capturing() {
    let mut r = reader(r#"{"a":[1,{"b":"]"}],"c":2} , 7"#);
    r.skip_value("t").unwrap();
    assert_eq!(r.peek_token().unwrap(), Some(b','));
    let mut r = reader("123,");
    assert_eq!(r.capture_value(10, "t").unwrap(), b"123");
    let mut r = reader("[1,2,3,4,5,6]");
    assert_eq!(
        r.capture_value(4, "t").unwrap_err().kind,
        SnapshotErrorKind::Unsupported
    );
    let deep = "[".repeat(MAX_DEPTH + 1);
    assert_eq!(
        reader(&deep).skip_value("t").unwrap_err().kind,
        SnapshotErrorKind::Malformed
    );
    assert_eq!(
        reader("[1,[2]").skip_value("t").unwrap_err().kind,
        SnapshotErrorKind::Truncated
    );
    assert_eq!(
        reader("[1}").skip_value("t").unwrap_err().kind,
        SnapshotErrorKind::Malformed
    );
}

/// A reader that hands out one byte per `read`, so every token straddles a refill.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

#[test]
fn tokens_straddling_refills() {
    let mut r = Reader::new(Trickle(b"[123, 4567] \"x\\u00e9\\ud83d\\ude00\""));
    let mut got = Vec::new();
    r.integer_array("t", |batch| {
        got.extend_from_slice(batch);
        Ok(())
    })
    .unwrap();
    assert_eq!(got, vec![123, 4567]);
    let mut s = Vec::new();
    r.string_into(&mut s, "t").unwrap();
    assert_eq!(String::from_utf8(s).unwrap(), "xé😀");
    assert_eq!(r.offset(), 33);
}
