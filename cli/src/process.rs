//! Settings of the `fasty` process itself (the engine's crates leave the
//! process alone; a binary that hosts them decides).

/// Turns transparent huge pages off for this whole process (Linux
/// `PR_SET_THP_DISABLE`; elsewhere it does nothing).
///
/// Why: an allocator that asks for huge pages (mimalloc advises them for its
/// arenas) makes the thread that first touches each 2 MiB region fault in a
/// whole huge page, and with the kernel's default `defrag=madvise` that
/// thread compacts memory synchronously when no free huge page is at hand.
/// On the 2-core VMs we measure on, 256 such faults took 3.07 s (12–22 ms
/// each) against 0.2 s for the same 512 MiB in 4 KiB pages; the thread
/// that stalls is often the one growing a memtable, such as the WAL's log
/// writer with every durable writer waiting behind it (64 durable writers
/// went from 69–81 k to 94–102 k single-row batches/s with THP off,
/// wal/README.md). Databases commonly advise turning THP off for the same
/// reason. Call it once, early in `main`, before the allocator has handed
/// out much memory; regions already backed by huge pages stay so.
///
/// # Errors
/// The OS error if the kernel refuses (for instance one too old to know
/// the request).
pub fn disable_transparent_huge_pages() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes one integer argument (1 = off)
        // and the rest zero; it touches no memory of ours.
        let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_off_afterwards() {
        // Run in a child so the setting does not leak into other tests of
        // this process: PR_SET_THP_DISABLE is inherited and permanent.
        let exe = std::env::current_exe().unwrap();
        if std::env::var_os("FASTY_THP_CHILD").is_some() {
            super::disable_transparent_huge_pages().unwrap();
            // SAFETY: PR_GET_THP_DISABLE takes no arguments.
            let state = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            assert_eq!(state, 1);
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            assert!(status.contains("THP_enabled:\t0"), "{status}");
            return;
        }
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "process::tests::huge_pages_are_off_afterwards",
                "--nocapture",
            ])
            .env("FASTY_THP_CHILD", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("1 passed"), "{stdout}");
    }
}
