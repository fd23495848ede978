/// The initramfs's `/init` (busybox ash, PID 1). It mounts the host root read-only over 9p under a
/// tmpfs overlay (writes stay in guest RAM), mounts proc/sys/dev, bpffs, debugfs, tracefs and the guest
/// kernel's modules, makes `modprobe` (busybox) work in the root, runs `$vmout/cmd` with the host's
/// /bin/sh, and powers off. Protocol with the host (`QEMURunner`):
///
/// * kernel command-line words without a dot reach /init as variables: `vmout=/abs/dir` (host
///   directory shared read-write as 9p tag `vmout`, mounted at the same path), `vmmods=a,b` (modules
///   loaded before the command; a failure is fatal), `vmrw=/a,/b` (host directories shared read-write
///   as tags `rw0`, `rw1`, ..., mounted at the same paths);
/// * console markers: `VM_INIT_FAILED: why`, `VM_CMD_BEGIN`, `VM_CMD_END status=N`, `VM_EXIT_STATUS=N`;
/// * the command's stdout, stderr and exit status land in `$vmout/stdout`, `stderr`, `exit_status`.
public enum GuestInit {
    public static let script = #"""
    #!/bin/sh
    # /init of the iavf-check VM initramfs (written by IavfVM; see GuestInit.swift).
    export PATH=/bin
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    exec </dev/console >/dev/console 2>&1
    up() { read -r u _ </proc/uptime; echo "$u"; }
    log() { echo "vm-init[$(up)]: $*"; }
    die() { echo "VM_INIT_FAILED: $*"; sync; poweroff -f; sleep 30; }
    KVER=$(cat /kver)
    log "kernel $(uname -r) up"
    for m in $(cat /mods/order); do insmod /mods/$m || die "insmod $m failed"; done
    O=trans=virtio,version=9p2000.L,msize=262144
    mount -t 9p -o $O,ro,cache=loose hostroot /lower || die "cannot mount the host root (9p tag hostroot)"
    mount -t tmpfs -o mode=0755 tmpfs /upper
    mkdir -p /upper/data /upper/work
    mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot \
      || die "cannot mount the overlay root"
    R=/newroot
    mount -t proc proc $R/proc || die "cannot mount /proc"
    mount -t sysfs sysfs $R/sys || die "cannot mount /sys"
    mount -t devtmpfs devtmpfs $R/dev || die "cannot mount /dev"
    mkdir -p $R/dev/pts $R/dev/shm
    mount -t devpts devpts $R/dev/pts
    mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
    mount -t tmpfs -o mode=0755 tmpfs $R/run || die "cannot mount /run"
    mount -t bpf bpf $R/sys/fs/bpf || die "cannot mount bpffs on /sys/fs/bpf"
    mount -t debugfs debugfs $R/sys/kernel/debug || die "cannot mount debugfs"
    mount -t tracefs tracefs $R/sys/kernel/tracing || die "cannot mount tracefs"
    mkdir -p /lib/modules/$KVER $R/lib/modules/$KVER || die "cannot create /lib/modules/$KVER"
    mount -t 9p -o $O,ro,cache=loose kmods /lib/modules/$KVER || die "cannot mount the modules (9p tag kmods)"
    mount --bind /lib/modules/$KVER $R/lib/modules/$KVER || die "cannot bind the modules into the root"
    echo /bin/modprobe >/proc/sys/kernel/modprobe
    mkdir -p $R/run/vm/bin
    cp /bin/busybox $R/run/vm/bin/busybox || die "cannot copy busybox"
    for a in modprobe insmod rmmod lsmod modinfo depmod; do ln -s busybox $R/run/vm/bin/$a; done
    [ -n "$vmout" ] || die "no vmout= on the kernel command line"
    mkdir -p $R$vmout
    mount -t 9p -o $O,cache=none vmout $R$vmout || die "cannot mount the output directory (9p tag vmout)"
    i=0
    for p in $(echo "$vmrw" | tr , ' '); do
      mkdir -p $R$p
      mount -t 9p -o $O,cache=none rw$i $R$p || die "cannot mount $p read-write (9p tag rw$i)"
      i=$((i+1))
    done
    log "mounts done"
    for m in $(echo "$vmmods" | tr , ' '); do
      modprobe $m || die "modprobe $m failed"
      log "modprobe $m ok"
    done
    echo VM_CMD_BEGIN
    env -i PATH=/run/vm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      TERM=dumb LANG=C.UTF-8 IAVF_CHECK_GUEST=1 KVER=$KVER VMOUT=$vmout \
      chroot $R /bin/sh $vmout/cmd </dev/null >$R$vmout/stdout 2>$R$vmout/stderr
    rc=$?
    echo "VM_CMD_END status=$rc"
    echo $rc >$R$vmout/exit_status
    sync
    echo "VM_EXIT_STATUS=$rc"
    poweroff -f
    sleep 30
    """#
}
