# Runs inside the node's root file system (chroot) while the image is built.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Units that make no sense in a container.
for unit in \
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-udev-trigger.service systemd-remount-fs.service systemd-firstboot.service \
  getty.target console-getty.service getty@tty1.service \
  sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
  dev-hugepages.mount systemd-modules-load.service kmod-static-nodes.service \
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
  systemd-hwdb-update.service proc-sys-fs-binfmt_misc.automount; do
  ln -sf /dev/null "/etc/systemd/system/$unit"
done

# Host keys are made per container at first boot (ssh-hostkeys.service), never baked in.
rm -f /etc/ssh/ssh_host_*
install -d -m 0700 /root/.ssh
passwd -l root >/dev/null
echo "node" >/etc/hostname
: >/etc/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
# No package lists ship in the image: mark the (empty) cache as old so that the
# first `apt update_cache cache_valid_time=...` really downloads the lists.
install -d -o _apt -g root -m 0700 /var/lib/apt/lists/partial
touch -d '2000-01-01' /var/lib/apt/lists
