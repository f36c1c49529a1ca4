use std::path::Path;

use super::*;

/// This machine's own texts: a hybrid layout, the memory controller on v1, an unused v2 mount.
const HYBRID_CGROUP: &str =
    "9:name=systemd:/\n4:memory:/process_api/7713\n2:cpuacct:/\n1:cpu:/\n0::/\n";
const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

fn dirs(controller: &Option<Controller>) -> Vec<&Path> {
    let controller = controller.as_ref().expect("controller found");
    controller.levels.iter().map(PathBuf::as_path).collect()
}

#[test]
fn hybrid_layout_reads_memory_from_v1_and_walks_up_to_the_mount() {
    let cgroups = Cgroups::locate(HYBRID_CGROUP, HYBRID_MOUNTINFO);
    assert_eq!(cgroups.memory.as_ref().unwrap().version, Version::V1);
    assert_eq!(
        dirs(&cgroups.memory),
        [
            Path::new("/sys/fs/cgroup/memory/process_api/7713"),
            Path::new("/sys/fs/cgroup/memory/process_api"),
            Path::new("/sys/fs/cgroup/memory"),
        ]
    );
    assert_eq!(dirs(&cgroups.cpu), [Path::new("/sys/fs/cgroup/cpu")]);
    assert_eq!(
        dirs(&cgroups.cpu_usage),
        [Path::new("/sys/fs/cgroup/cpuacct")]
    );
}

#[test]
fn pure_v2_uses_the_unified_hierarchy_for_everything() {
    let cgroups = Cgroups::locate(
        "0::/user.slice/build.scope\n",
        "24 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
    );
    for controller in [&cgroups.memory, &cgroups.cpu, &cgroups.cpu_usage] {
        assert_eq!(controller.as_ref().unwrap().version, Version::V2);
        assert_eq!(
            dirs(controller),
            [
                Path::new("/sys/fs/cgroup/user.slice/build.scope"),
                Path::new("/sys/fs/cgroup/user.slice"),
                Path::new("/sys/fs/cgroup"),
            ]
        );
    }
}

#[test]
fn a_container_whose_mount_root_is_its_own_cgroup_reads_the_mount_point() {
    // Docker without a cgroup namespace: the hierarchy's /docker/abc is mounted at
    // /sys/fs/cgroup/memory, and /proc/self/cgroup names the full path.
    let cgroups = Cgroups::locate(
        "5:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n",
        "40 30 0:40 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n\
         41 30 0:41 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n",
    );
    assert_eq!(dirs(&cgroups.memory), [Path::new("/sys/fs/cgroup/memory")]);
    assert_eq!(
        dirs(&cgroups.cpu),
        [Path::new("/sys/fs/cgroup/cpu,cpuacct")]
    );
    assert_eq!(
        dirs(&cgroups.cpu_usage),
        [Path::new("/sys/fs/cgroup/cpu,cpuacct")]
    );
}

#[test]
fn a_path_outside_the_mount_falls_back_to_the_mount_point() {
    let cgroups = Cgroups::locate(
        "0::/../../outside\n",
        "24 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    );
    assert_eq!(dirs(&cgroups.memory), [Path::new("/sys/fs/cgroup")]);
}

#[test]
fn no_cgroup_mounts_means_no_limits() {
    let cgroups = Cgroups::locate(
        "0::/\n",
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n23 22 0:5 / /proc rw - proc proc rw\n",
    );
    assert_eq!(cgroups, Cgroups::default());
    assert_eq!(cgroups.memory_available(), None);
    assert_eq!(cgroups.cpu_quota(), None);
    assert_eq!(cgroups.cpu_usage(), None);
    assert_eq!(Cgroups::locate("", ""), Cgroups::default());
}

#[test]
fn mount_points_with_escaped_spaces_are_decoded() {
    let cgroups = Cgroups::locate(
        "0::/a\n",
        "24 1 0:22 / /mnt/cg\\040root rw - cgroup2 cgroup2 rw\n",
    );
    assert_eq!(dirs(&cgroups.memory)[0], Path::new("/mnt/cg root/a"));
}

fn write(dir: &Path, name: &str, text: &str) {
    fs_err::create_dir_all(dir).unwrap();
    fs_err::write(dir.join(name), text).unwrap();
}

const MB: u64 = 1 << 20;

#[test]
fn v2_available_memory_is_the_tightest_level_minus_its_working_set() {
    let root = tempfile::tempdir().unwrap();
    let parent = root.path().join("ci.slice");
    let leaf = parent.join("job.scope");
    // The parent allows 1000 MB and holds 700 MB, 100 MB of it droppable cache.
    write(&parent, "memory.max", &format!("{}\n", 1000 * MB));
    write(&parent, "memory.current", &format!("{}\n", 700 * MB));
    write(
        &parent,
        "memory.stat",
        &format!("anon 1\ninactive_file {}\n", 100 * MB),
    );
    // The leaf has no limit of its own.
    write(&leaf, "memory.max", "max\n");
    write(&leaf, "memory.current", &format!("{}\n", 300 * MB));
    write(&leaf, "cpu.max", "150000 100000\n");
    write(&parent, "cpu.max", "max 100000\n");
    write(&leaf, "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n");

    let mountinfo = format!(
        "24 1 0:22 / {} rw - cgroup2 cgroup2 rw\n",
        root.path().display()
    );
    let cgroups = Cgroups::locate("0::/ci.slice/job.scope\n", &mountinfo);
    assert_eq!(cgroups.memory_limit(), Some(1000 * MB));
    assert_eq!(cgroups.memory_available(), Some(400 * MB));
    assert_eq!(cgroups.cpu_quota(), Some(1.5));
    assert_eq!(cgroups.cpu_usage(), Some(Duration::from_millis(2500)));
}

#[test]
fn v1_reads_its_own_file_names_and_treats_the_huge_default_as_no_limit() {
    let root = tempfile::tempdir().unwrap();
    let memory = root.path().join("memory");
    let cpu = root.path().join("cpu");
    let leaf = memory.join("job");
    write(&memory, "memory.limit_in_bytes", "9223372036854771712\n");
    write(
        &memory,
        "memory.usage_in_bytes",
        &format!("{}\n", 5000 * MB),
    );
    write(&leaf, "memory.limit_in_bytes", &format!("{}\n", 2048 * MB));
    write(&leaf, "memory.usage_in_bytes", &format!("{}\n", 1100 * MB));
    write(
        &leaf,
        "memory.stat",
        &format!("cache 5\ntotal_inactive_file {}\n", 50 * MB),
    );
    write(&cpu, "cpu.cfs_quota_us", "-1\n");
    write(&cpu, "cpu.cfs_period_us", "100000\n");
    write(&cpu, "cpuacct.usage", "1500000000\n");

    let mountinfo = format!(
        "35 31 0:32 / {} rw - cgroup cgroup rw,memory\n\
         32 31 0:29 / {} rw - cgroup cgroup rw,cpu,cpuacct\n",
        memory.display(),
        cpu.display()
    );
    let cgroups = Cgroups::locate("4:memory:/job\n2:cpu,cpuacct:/\n", &mountinfo);
    assert_eq!(cgroups.memory_limit(), Some(2048 * MB));
    assert_eq!(cgroups.memory_available(), Some(998 * MB));
    assert_eq!(cgroups.cpu_quota(), None, "-1 is no quota");
    assert_eq!(cgroups.cpu_usage(), Some(Duration::from_millis(1500)));

    write(&cpu, "cpu.cfs_quota_us", "50000\n");
    assert_eq!(cgroups.cpu_quota(), Some(0.5));
}

#[test]
fn limit_files_parse_numbers_and_reject_max_and_garbage() {
    assert_eq!(parse_limit("1048576\n"), Some(MB));
    assert_eq!(parse_limit("max\n"), None);
    assert_eq!(parse_limit("9223372036854771712"), None);
    assert_eq!(parse_limit(""), None);
    assert_eq!(parse_cpu_max("max 100000"), None);
    assert_eq!(parse_cpu_max("200000 100000\n"), Some(2.0));
    assert_eq!(parse_cpu_max("garbage"), None);
    assert_eq!(
        stat_field("anon 5\ninactive_file 7\n", "inactive_file"),
        Some(7)
    );
    assert_eq!(stat_field("anon 5\n", "inactive_file"), None);
}
