//! Edge cases of the text scanner; each expected value is read off the input line by hand.

use super::line::{self, Dialect};
use super::payload;
use super::*;

fn cfg(dialect: Dialect) -> Config {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    Config {
        dialect,
        stacks: true,
        payload: true,
        lane: false,
        block_events: s(&["block:block_rq_insert", "block:block_rq_issue", "block:block_rq_complete", "block:block_rq_requeue"]),
        net_events: s(&["net:net_dev_xmit", "net:netif_receive_skb"]),
        systems: vec![("block_".into(), "block".into()), ("sched_".into(), "sched".into())],
        exact: vec![("print".into(), "ftrace:print".into())],
    }
}

/// The whole input at once (the last chunk).
fn scan(d: Dialect, text: &[u8]) -> (Scanner, ChunkOut) {
    let mut s = Scanner::new(cfg(d));
    let out = s.scan(text, &[], true).expect("the last chunk always gives an output");
    (s, out)
}

fn kind<'a>(out: &'a ChunkOut, name: &str) -> &'a KindCols {
    out.kinds.iter().find(|k| k.name == name).unwrap_or_else(|| panic!("no {name} in {:?}", out.kinds.iter().map(|k| &k.name).collect::<Vec<_>>()))
}

fn table(c: &cols::Codes) -> Vec<String> {
    let t = String::from_utf8(c.table.clone()).unwrap();
    let all: Vec<String> = t.split('\n').map(String::from).collect();
    c.codes.iter().map(|&i| all.get(i as usize).filter(|_| i < c.n).cloned().unwrap_or_else(|| "<null>".into())).collect()
}

const ISSUE: &[u8] = b"              dd  4116 [001]  2406.385071:     block:block_rq_issue: 254,0 WS 4096 () 2048 + 8 be,0,4 [dd]\n";

#[test]
fn perf_event_line_fields() {
    let (_, out) = scan(Dialect::Perf, ISSUE);
    let k = kind(&out, "block:block_rq_issue");
    assert_eq!((k.ts_ns[0], k.cpu[0], k.pid[0], k.tgid_ok[0]), (2_406_385_071_000, 1, 4116, 0));
    assert_eq!(table(&k.comm), ["dd"]);
    assert_eq!((k.block.dev_major[0], k.block.dev_minor[0], k.block.sector[0], k.block.nr_sector[0]), (254, 0, 2048, 8));
    assert_eq!((k.block.bytes[0], k.block.bytes_ok[0], k.block.error_ok[0]), (4096, 1, 0));
    assert_eq!((table(&k.block.dev), table(&k.block.rwbs)), (vec!["254,0".to_string()], vec!["WS".to_string()]));
    assert_eq!((table(&k.block.ioprio), table(&k.block.rq_comm)), (vec!["be,0,4".to_string()], vec!["dd".to_string()]));
    assert_eq!(String::from_utf8_lossy(&k.payload.as_ref().unwrap().blob), "254,0 WS 4096 () 2048 + 8 be,0,4 [dd]\n");
    assert_eq!(out.skipped, 0);
}

#[test]
fn crlf_and_no_trailing_newline() {
    let text = b"  dd 1 [000] 5.000001: block:block_rq_complete: 8,0 W () 16 + 8 [0]\r\n  dd 1 [000] 5.000002: block:block_rq_complete: 8,0 W () 24 + 8 [-5]";
    let (_, out) = scan(Dialect::Perf, text);
    let k = kind(&out, "block:block_rq_complete");
    assert_eq!(k.ts_ns, [5_000_001_000, 5_000_002_000]);
    assert_eq!((k.block.error.clone(), k.block.error_ok.clone()), (vec![0, -5], vec![1, 1]));
    assert_eq!(table(&k.block.rq_comm), ["<null>", "<null>"]);
}

#[test]
fn comm_with_spaces_brackets_and_pid_forms() {
    let text = b"Web Content [x] 1234/1240 [003] 2406.385071123: 1 block:block_rq_issue: 8,0 R 512 () 1 + 1 [a] [b]\n\
                 swapper -1/-1 [000] 1.5: block:block_rq_issue: 8,0 R 512 () 2 + 1 [swapper]\n";
    let (_, out) = scan(Dialect::Perf, text);
    let k = kind(&out, "block:block_rq_issue");
    assert_eq!(table(&k.comm), ["Web Content [x]", "swapper"]);
    assert_eq!((k.pid.clone(), k.tgid.clone(), k.tgid_ok.clone()), (vec![1240, -1], vec![1234, -1], vec![1, 1]));
    assert_eq!(k.ts_ns, [2_406_385_071_123, 1_500_000_000]);
    assert_eq!(table(&k.block.rq_comm), ["a] [b", "swapper"]); // the tail runs to the last ']'
}

#[test]
fn ftrace_cpu_forms_tgid_and_instance() {
    let text = b"cpus=2\n\
        kworker/u8:2-77   (   77) [000] ..... 2406.385324: block_rq_insert: 254,0 W 4096 () 88 + 8 be,0,4 [kworker/u8:2]\n\
        sh-6702    0...1.  3143.990501: block_rq_insert:      254,0 RA 4096 () 29946528 + 8 0x2,0,4 [sh]\n\
        tpfix:          python3-6547  [001]  3134.186146: sched_switch: prev_comm=python3 prev_pid=6547\n\
        dd-9 (-----) [002] d.h2. 1.000000: print: hello\n";
    let (_, out) = scan(Dialect::Ftrace, text);
    let k = kind(&out, "block:block_rq_insert");
    assert_eq!((k.cpu.clone(), k.pid.clone(), k.tgid_ok.clone(), k.tgid[0]), (vec![0, 0], vec![77, 6702], vec![1, 0], 77));
    assert_eq!(table(&k.comm), ["kworker/u8:2", "sh"]);
    let s = kind(&out, "sched:sched_switch");
    assert_eq!((table(&s.comm), s.cpu[0]), (vec!["python3".to_string()], 1));
    let p = kind(&out, "ftrace:print");
    assert_eq!((p.cpu[0], p.tgid_ok[0]), (2, 0));
    assert_eq!(out.skipped, 0);
}

#[test]
fn numbers_that_overflow_are_skipped_lines() {
    let text = b"  dd 99999999999 [000] 5.1: block:block_rq_issue: 8,0 R 512 () 1 + 1 [dd]\n\
                 dd 1 [99999] 5.1: block:block_rq_issue: 8,0 R 512 () 1 + 1 [dd]\n\
                 dd 1 [000] 9223372037.1: block:block_rq_issue: 8,0 R 512 () 1 + 1 [dd]\n\
                 dd 1 [000] 5.1: block:block_rq_issue: 8,0 R 512 () 18446744073709551616 + 1 [dd]\n\
                 dd 1 [000] 5.1: block:block_rq_complete: 8,0 R () 1 + 1 [99999999999]\n\
                 dd 1 [000] 9223372036.854775807: block:block_rq_complete: 8,0 FF () 18446744073709551615 + 0 [0]\n";
    let (_, out) = scan(Dialect::Perf, text);
    assert_eq!(out.skipped, 5);
    assert_eq!(out.first_skip.as_ref().unwrap().0, 1);
    let k = kind(&out, "block:block_rq_complete");
    assert_eq!((k.ts_ns[0], k.block.sector[0]), (i64::MAX, u64::MAX)); // the very last ns and sector that fit
}

#[test]
fn bad_payload_is_named_by_its_event() {
    let (_, out) = scan(Dialect::Perf, b"  dd 1 [000] 5.1: block:block_rq_issue: nonsense  \n");
    assert_eq!(out.first_skip, Some((1, "block:block_rq_issue: nonsense".to_string())));
}

#[test]
fn non_utf8_bytes_are_replaced_not_fatal() {
    let (_, out) = scan(Dialect::Perf, b"  d\xffd 1 [000] 5.1: block:block_rq_issue: 8,0 R 512 () 1 + 1 [\xfe]\n\x80\x81\n");
    let k = kind(&out, "block:block_rq_issue");
    assert_eq!((table(&k.comm), table(&k.block.rq_comm)), (vec!["d\u{fffd}d".to_string()], vec!["\u{fffd}".to_string()]));
    assert_eq!(out.first_skip, Some((2, "\u{fffd}\u{fffd}".to_string())));
}

#[test]
fn empty_payloads() {
    // "name:" ending the line is an event with an empty payload; a perf name cut before its ':' is not
    let (_, out) = scan(Dialect::Perf, b"  dd 1 [000] 5.1: sched:sched_foo:\n  dd 1 [000] 5.1:   block:\n");
    let k = kind(&out, "sched:sched_foo");
    assert_eq!(k.payload.as_ref().map(|p| p.n), Some(1));
    assert_eq!((out.kinds.len(), out.skipped), (1, 1));
}

#[test]
fn lost_records() {
    let (_, out) = scan(Dialect::Perf, b"perf 0 [002] 0.0: PERF_RECORD_LOST lost 12\nx PERF_RECORD_LOST_SAMPLES lost: 3\n");
    assert_eq!((out.lost_events, out.lost_by_cpu.get(&2).copied(), out.skipped), (15, Some(12), 0));
    let (_, out) = scan(Dialect::Ftrace, b"CPU:1 [LOST 1204 EVENTS]\ntpfix: CPU:0 [8828 EVENTS DROPPED]\nCPU:3 [7 EVENTS]\n");
    assert_eq!(out.lost_events, 1204 + 8828 + 7);
    assert_eq!(out.lost_by_cpu.into_iter().collect::<Vec<_>>(), [(0, 8828), (1, 1204), (3, 7)]);
}

#[test]
fn cut_lines_count_once_and_show_their_start() {
    let mut text = vec![b'x'; MAX_LINE_BYTES + 1];
    text.extend_from_slice(b"\n");
    text.extend_from_slice(ISSUE);
    let mut s = Scanner::new(cfg(Dialect::Perf));
    let out = s.scan(&text, &[b"abc".to_vec()], true).unwrap();
    assert_eq!(out.skipped, 2);
    assert_eq!(out.first_skip, Some((1, "[a line over 1 MB, cut] abc".to_string())));
    assert_eq!(kind(&out, "block:block_rq_issue").len(), 1);
}

#[test]
fn frames_without_events_are_skipped_and_chains_are_interned() {
    let text = b"\tffffffffa8a4d4a2 blk_mq_start_request+0xc2 ([kernel.kallsyms])\n\
        dd 1 [000] 5.1: block:block_rq_issue: 8,0 R 512 () 1 + 1 [dd]\n\
        \tffffffffa8a4d4a2 blk_mq_start_request+0xc2 ([kernel.kallsyms])\n\
        \t       0 [unknown] ([unknown])\n\n\
        dd 1 [000] 5.2: block:block_rq_issue: 8,0 R 512 () 2 + 1 [dd]\n\
        \tffffffffa8a4d4a2 blk_mq_start_request+0xc2 ([kernel.kallsyms])\n\
        \t       0 [unknown] ([unknown])\n\
        dd 1 [000] 5.3: block:block_rq_issue: 8,0 R 512 () 3 + 1 [dd]\n";
    let (s, out) = scan(Dialect::Perf, text);
    assert_eq!((out.skipped, out.first_skip.as_ref().unwrap().0), (1, 1));
    assert_eq!(kind(&out, "block:block_rq_issue").stack_id, [0, 0, -1]);
    assert_eq!(s.stack_count(), 1);
    assert_eq!(String::from_utf8_lossy(&out.new_frames), "blk_mq_start_request+0xc2 ([kernel.kallsyms])\n[unknown] ([unknown])\n");
}

#[test]
fn ftrace_stack_belongs_to_the_last_event_on_the_markers_cpu() {
    let text = b"dd-1 [001] 5.000001: block_rq_issue: 8,0 R 512 () 1 + 1 [dd]\n\
        sh-2 [000] 5.000002: block_rq_issue: 8,0 R 512 () 9 + 1 [sh]\n\
        dd-1 [001] 5.000003: <stack trace>\n => blk_mq_start_request\n => <00007f00>\n";
    let (_, out) = scan(Dialect::Ftrace, text);
    assert_eq!(kind(&out, "block:block_rq_issue").stack_id, [0, -1]);
    assert_eq!(String::from_utf8_lossy(&out.new_frames), "blk_mq_start_request\n<00007f00>\n");
    assert_eq!(out.skipped, 0);
}

#[test]
fn a_call_chain_across_chunks_stays_with_its_event() {
    let first = b"dd 1 [000] 5.1: block:block_rq_issue: 8,0 R 512 () 1 + 1 [dd]\n\tffff a (k)\n";
    let second = b"\tffff b (k)\ndd 1 [000] 5.2: block:block_rq_issue: 8,0 R 512 () 2 + 1 [dd]\n";
    let mut s = Scanner::new(cfg(Dialect::Perf));
    assert!(s.scan(first, &[], false).is_none(), "one event and its chain so far: carried");
    let out = s.scan(second, &[], false).unwrap();
    assert_eq!(kind(&out, "block:block_rq_issue").stack_id, [0]);
    assert_eq!(String::from_utf8_lossy(&out.new_frames), "a (k)\nb (k)\n");
    let out = s.scan(b"", &[], true).unwrap();
    assert_eq!(kind(&out, "block:block_rq_issue").ts_ns, [5_200_000_000]);
    assert_eq!(s.next_no, 5);
}

#[test]
fn syscalls_print_their_own_names() {
    let text = b"dd-27040   [001] .....   667.743482: sys_write(fd: 1, buf: 0x5649, count: 0x200)\n\
        dd-27040   [001] .....   667.743485: sys_write -> 0x200\n";
    let (_, out) = scan(Dialect::Ftrace, text);
    let e = kind(&out, "syscalls:sys_enter_write");
    assert_eq!(String::from_utf8_lossy(&e.payload.as_ref().unwrap().blob), "fd: 1, buf: 0x5649, count: 0x200\n");
    let x = kind(&out, "syscalls:sys_exit_write");
    assert_eq!(String::from_utf8_lossy(&x.payload.as_ref().unwrap().blob), "0x200\n");
}

#[test]
fn net_fields() {
    let n = payload::net(b"dev=eth0 skbaddr=0xffff8881 len=1514 xdev=no");
    assert_eq!((n.dev_name, n.skbaddr, n.len), (Some(&b"eth0"[..]), Some(&b"ffff8881"[..]), Some(&b"1514"[..])));
    let n = payload::net(b"skbaddr=0xZZ xlen=5");
    assert_eq!((n.skbaddr, n.len), (Some(&b"0"[..]), None));
}

#[test]
fn line_grammar_rejects_near_misses() {
    assert!(line::perf_prefix(b"dd 1/2/3 [000] 5").is_none());
    assert!(line::perf_prefix(b"1 [000] 5").is_none()); // no whitespace before the pid
    assert!(line::ftrace_prefix(b"dd-x [000] 5").is_none());
    assert!(line::head(b"dd-1 [000] 5.1: <stack trace>", Dialect::Ftrace).is_none());
    assert!(line::frame(b"dd  3388 [000] 5.1: x", Dialect::Perf).is_none());
    assert!(line::quiet(b"  # ========", Dialect::Perf) && !line::quiet(b"cpus=x", Dialect::Ftrace));
    assert_eq!(count_heads(ISSUE, Dialect::Perf), 1);
    assert_eq!(count_heads(ISSUE, Dialect::Ftrace), 0);
}

#[test]
fn the_lane_takes_insert_issue_complete_with_the_values_their_frames_have() {
    let text = b"              dd  4116 [001]  2406.385071:     block:block_rq_issue: 254,0 WS 4096 () 2048 + 8 be,0,4 [dd]\n\
                 \x20    swapper/1     0 [001]  2406.385190:  block:block_rq_complete: 254,0 WS () 2048 + 8 be,0,4 [0]\n\
                 \x20   kworker/1:2   60 [001]  2406.385200:   block:block_rq_requeue: 254,0 WS () 2048 + 8 be,0,4 [0]\n\
                 \x20             dd  4116 [000]  2406.385300:     block:block_rq_insert: 8,16 R 512 () 7 + 1 [dd]\n";
    let mut c = cfg(Dialect::Perf);
    c.lane = true;
    let out = Scanner::new(c).scan(text, &[], true).unwrap();
    let l = &out.lane;
    assert_eq!(l.kind, [lane::ISSUE, lane::COMPLETE, lane::INSERT]);
    assert_eq!(l.ts, [2_406_385_071_000, 2_406_385_190_000, 2_406_385_300_000]);
    assert_eq!((l.pid.clone(), l.sector.clone(), l.nr.clone()), (vec![4116, 0, 4116], vec![2048, 2048, 7], vec![8, 8, 1]));
    assert_eq!((l.bytes.clone(), l.nulls.clone()), (vec![4096, 0, 512], vec![0, lane::BYTES_NULL, 0]));
    assert_eq!(l.devnum, [(254 << 20), (254 << 20), (8 << 20) + 16]);
    // one table for the run: 254,0 dd WS swapper/1 8,16 R
    assert_eq!(String::from_utf8_lossy(&out.lane_new.0), "254,0\ndd\nWS\nswapper/1\n8,16\nR\n");
    assert_eq!((l.dev.clone(), l.comm.clone(), l.rwbs.clone()), (vec![0, 0, 4], vec![1, 3, 1], vec![2, 2, 5]));
    // the requeue is not in the lane: it stays a frame
    assert_eq!(out.kinds.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["block:block_rq_requeue"]);
    let names: Vec<_> = l.stats.iter().map(|s| (s.name.as_str(), s.n)).collect();
    assert_eq!(names, [("block:block_rq_issue", 1), ("block:block_rq_complete", 1), ("block:block_rq_insert", 1)]);
}

#[test]
fn trim_is_str_trim_at_ascii_and_unicode_ends() {
    for s in ["", " ", "\t\x0b\x0c\r\n", " dd ", "\u{a0}dd\u{a0}", " \u{2003} x \u{85}", "é", " é ", "a\u{a0}", "\u{1680}"] {
        assert_eq!(trim_str(s), s.trim(), "{s:?}");
    }
}

#[test]
fn a_chunk_scanned_alone_takes_its_opening_frames_as_the_last_events() {
    let mut c = cfg(Dialect::Perf);
    c.stacks = false;
    let frames = b"\tffff a (k)\n\tffff b (k)\n";
    let issue = b"dd 1 [000] 5.2: block:block_rq_issue: 8,0 R 512 () 2 + 1 [dd]\nno perf line\n";
    let after = [&frames[..], &issue[..]].concat();
    // after an event line: the frames are that event's (not kept: no stacks), the bad line is line 4
    let out = Scanner::new(c.clone()).scan_alone(b"", &after, &[], true);
    assert_eq!((out.skipped, out.first_skip.clone().map(|s| s.0), out.lines, out.heads), (1, Some(4), 4, 1));
    // before any: the frames are no one's, skipped lines
    let out = Scanner::new(c.clone()).scan_alone(b"", &after, &[], false);
    assert_eq!((out.skipped, out.first_skip.map(|s| s.0)), (3, Some(1)));
    // the head of a read (the line the previous read ended inside) is the chunk's first line
    let out = Scanner::new(c).scan_alone(b"dd 1 [000] 5.1: block:bl", b"ock_rq_issue: 8,0 R 512 () 1 + 1 [dd]\n\tffff a (k)\n", &[], false);
    assert_eq!((out.skipped, out.lines, out.heads, kind(&out, "block:block_rq_issue").ts_ns[0]), (0, 2, 1, 5_100_000_000));
}

#[test]
fn a_stack_marker_owns_the_frames_after_it_in_the_chunks_after_its_own() {
    // ftrace's marker before any event line on its CPU: the frames after it are recognised (and
    // dropped), not skipped; a chunk after the marker's own is told so, as after an event line
    let mut c = cfg(Dialect::Ftrace);
    c.stacks = false;
    let first = b"dd-1 [001] 5.000001: <stack trace>\n => blk_mq_start_request\n";
    let second = b" => blk_mq_run_hw_queue\n => vfs_write\n";
    let whole = Scanner::new(c.clone()).scan(&[&first[..], &second[..]].concat(), &[], true).unwrap();
    assert_eq!((whole.skipped, whole.heads, whole.markers), (0, 0, 1));
    let out = Scanner::new(c.clone()).scan_alone(b"", first, &[], false);
    assert_eq!((out.skipped, out.heads, out.markers), (0, 0, 1));
    let out = Scanner::new(c).scan_alone(b"", second, &[], out.heads + out.markers > 0);
    assert_eq!((out.skipped, out.markers), (0, 0));
}

#[test]
fn a_known_name_splits_its_lines_as_the_full_reading_does() {
    let issue = b"dd  4116 [001]  2406.385071:     block:block_rq_issue: 254,0 WS 4096 () 2048 + 8 [dd]";
    let mut named = line::Named::default();
    let lead = line::lead(issue, Dialect::Perf).unwrap();
    assert!(named.known(&lead, Dialect::Perf).is_none());
    named.learn(&lead.head(Dialect::Perf).unwrap(), 3);
    // the same spelling before the payload: known, with the payload this line has
    let next = b"kworker/0:1  7 [000]  2406.385090:     block:block_rq_issue: 8,0 R 512 () 1 + 1 [k]";
    let (h, kind) = named.known(&line::lead(next, Dialect::Perf).unwrap(), Dialect::Perf).unwrap();
    assert_eq!((&*h.event, h.payload, kind), (&b"block:block_rq_issue"[..], &b"8,0 R 512 () 1 + 1 [k]"[..], 3));
    // padded otherwise, or the name ending the line: read in full
    for other in [&b"dd  4116 [001]  2406.385071:    block:block_rq_issue: x"[..], b"dd  4116 [001]  2406.385071:     block:block_rq_issue:"] {
        assert!(named.known(&line::lead(other, Dialect::Perf).unwrap(), Dialect::Perf).is_none());
    }
    // ftrace's syscall lines are read before any name: one that starts as a known name does is not it
    let sys = b"dd-1 [000] 5.100: sys_write(fd: 1)";
    let mut fnamed = line::Named::default();
    let first = b"dd-1 [000] 5.000: sys_write(fd: 1"; // no ')': a name "sys_write(fd" and its payload
    fnamed.learn(&line::head(first, Dialect::Ftrace).unwrap(), 0);
    assert!(fnamed.known(&line::lead(sys, Dialect::Ftrace).unwrap(), Dialect::Ftrace).is_none());
    assert_eq!(&*line::head(sys, Dialect::Ftrace).unwrap().event, b"syscalls:sys_enter_write");
}

#[test]
fn a_block_payloads_numbers_carry_their_values_wide_ones_checked() {
    let b = payload::block(b"8,0 FF () 18446744073709551615 + 0 [0]").unwrap();
    assert_eq!((b.sector.value, b.major.fits::<u32>(), b.nr.value), (Some(u64::MAX), Some(8), Some(0)));
    let b = payload::block(b"8,0 W 4096 () 18446744073709551616 + 8 [dd]").unwrap(); // one past u64
    assert_eq!((b.sector.value, b.bytes.and_then(|d| d.value)), (None, Some(4096)));
    let b = payload::block(b"4294967296,0 W () 9999999999999999999 + 8 [0]").unwrap(); // 19 digits: summed unchecked, and fits
    assert_eq!((b.major.fits::<u32>(), b.major.value, b.sector.value), (None, Some(1 << 32), Some(9_999_999_999_999_999_999)));
}
