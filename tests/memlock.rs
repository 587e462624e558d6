//! Under a memlock limit, with CAP_IPC_LOCK dropped: chunks past the limit are used
//! unlocked, recording is still exact, and the user is told once, through the host's
//! log, from the worker. The test re-runs itself in a child process under the limit.

mod support;
use std::process::Command;
use support::*;

const CHILD: &str = "LOOPER_MEMLOCK_CHILD";
const LIMIT: u64 = 1 << 20; // 1 MiB: 16 chunks

#[test]
fn under_a_memlock_limit_recording_works_and_is_reported_once() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let exe = std::env::current_exe().unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--inh-caps=-ipc_lock",
            "--bounding-set=-ipc_lock",
            "prlimit",
        ]);
        c
    } else {
        Command::new("prlimit")
    };
    cmd.arg(format!("--memlock={LIMIT}:{LIMIT}"))
        .arg(&exe)
        .args([
            "--exact",
            "under_a_memlock_limit_recording_works_and_is_reported_once",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1");
    let out = cmd.output().expect("run setpriv/prlimit (util-linux)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("CHILD-OK"),
        "the child did not run its checks:\n{text}"
    );
}

fn child() {
    // The limit really holds here: locking more than it fails.
    let mut big = vec![1u8; 2 * LIMIT as usize];
    // SAFETY: mlock of our own live buffer; undone at once if it succeeds.
    let r = unsafe { libc::mlock(big.as_mut_ptr().cast(), big.len()) };
    assert_ne!(
        r, 0,
        "mlock of 2 MiB succeeded: the limit or the dropped capability is not in force"
    );
    drop(big);

    let mut h = Host::new(48_000.0, WorkerMode::Prompt);
    h.idle(512, 512);
    let len = 40 * CHUNK + 5; // 2.6 MiB of audio, past the 1 MiB limit
    let mut i = 0;
    while i < len {
        let n = 512.min(len - i);
        let input: Vec<f32> = (i..i + n).map(|k| sig(k as u64)).collect();
        h.run(&input, 1.0, 1.0);
        i += n;
    }
    let mut t = 0;
    while t < 2 * len {
        let n = 4096.min(2 * len - t);
        let out = h.run(&vec![0.0; n], 0.0, 1.0).to_vec();
        for (j, &o) in out.iter().enumerate() {
            assert_eq!(o, sig(((t + j) % len) as u64), "sample {}", t + j);
        }
        t += n;
    }
    assert_eq!(h.dropouts(), 0);
    assert!(
        vm_locked_kib() <= LIMIT / 1024,
        "VmLck {} kB over the limit",
        vm_locked_kib()
    );
    let log = h.log();
    let mlock_msgs: Vec<_> = log
        .iter()
        .filter(|(_, m)| m.contains("mlock refused"))
        .collect();
    assert_eq!(mlock_msgs.len(), 1, "told once: {log:?}");
    assert_rt_clean();
    println!("CHILD-OK");
}
