#!/usr/bin/env bash
# Builds the project's own sample VM: test/fixtures/sample-vm/burstgate-sample.ova
#
#   64 MiB raw disk, GPT (written by scripts/write-gpt.ts), one Linux partition at 1 MiB
#   holding an ext4 filesystem made with `mkfs.ext4 -d` → streamOptimized VMDK (header
#   version 3) → OVF 1.0 descriptor + SHA256 manifest → OVA (ustar; descriptor first).
#
# No root, no loop mounts, no network. Needs: qemu-img (Debian qemu-utils), mkfs.ext4 and
# debugfs (e2fsprogs), GNU tar, sha256sum, node + the project's tsx (node_modules).
# The build is deterministic: run it twice and the OVA has the same bytes (checked by
# `--check`, which rebuilds into a temporary folder and compares with the committed files).
#
# Usage: scripts/build-sample-vm.sh [--out DIR] [--check]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/test/fixtures/sample-vm"
CHECK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --check) CHECK=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^#//; s/^ //'; exit 0 ;;
    *) echo "build-sample-vm: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

need() {
  command -v "$1" >/dev/null 2>&1 || PATH="$PATH:/sbin:/usr/sbin" command -v "$1" >/dev/null 2>&1 || {
    echo "build-sample-vm: '$1' not found; install the Debian package '$2' (apt-get install $2)" >&2
    exit 1
  }
}
export PATH="$PATH:/sbin:/usr/sbin"
need qemu-img qemu-utils
need mkfs.ext4 e2fsprogs
need debugfs e2fsprogs
need tar tar
need sha256sum coreutils
need node nodejs
TSX="$ROOT/node_modules/.bin/tsx"
[ -x "$TSX" ] || { echo "build-sample-vm: $TSX missing; run npm ci in $ROOT" >&2; exit 1; }

# ---- fixed identity: every run produces the same bytes ----------------------------------
NAME=burstgate-sample
EPOCH=1735689600                                   # 2025-01-01T00:00:00Z, all timestamps
FS_UUID=6b5e1a57-0000-4b6e-8a7e-5a3b1e000001        # ext4 UUID
FS_HASH_SEED=6b5e1a57-0000-4b6e-8a7e-5a3b1e000002   # ext4 directory hash seed
DISK_GUID=6B5E1A57-0000-4B6E-8A7E-5A3B1E000003      # GPT disk GUID
PART_GUID=6B5E1A57-0000-4B6E-8A7E-5A3B1E000004      # GPT partition GUID
VMDK_CID=6b5e1a57                                  # qemu-img picks a random CID; we fix it
DISK_MIB=64
PART_FIRST_LBA=2048                                # 1 MiB
PART_MIB=62                                        # 1 MiB .. 63 MiB (size 1 MiB aligned too)
PART_LAST_LBA=$(( PART_FIRST_LBA + PART_MIB * 2048 - 1 ))

export TZ=UTC LC_ALL=C SOURCE_DATE_EPOCH="$EPOCH" E2FSPROGS_FAKE_TIME="$EPOCH"
umask 022

WORK="$(mktemp -d "${TMPDIR:-/tmp}/burstgate-sample.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ---- 1. the files inside the VM -----------------------------------------------------------
FS="$WORK/rootfs"
mkdir -p "$FS/etc" "$FS/opt/burstgate"
printf '%s\n' "$NAME" > "$FS/etc/hostname"
cat > "$FS/etc/os-release" <<'EOF'
NAME="burstgate sample"
ID=burstgate-sample
VERSION_ID=1
PRETTY_NAME="burstgate sample VM 1"
HOME_URL="https://burstgate.dev/"
EOF
cat > "$FS/README" <<'EOF'
burstgate sample VM

This small disk was built by scripts/build-sample-vm.sh in the burstgate project, to test
offloading a VM to a cloud and bringing it home. It holds no operating system: a GPT disk
with one ext4 partition and a few files. If this file comes back unchanged, so did the disk.
EOF
# 48 KiB of deterministic "binary" data: SHA-256 in counter mode.
node -e '
  const { createHash } = require("node:crypto");
  const parts = [];
  for (let i = 0; i < 1536; i++) parts.push(createHash("sha256").update("burstgate-sample:" + i).digest());
  require("node:fs").writeFileSync(process.argv[1], Buffer.concat(parts));
' "$FS/opt/burstgate/pattern.bin"
find "$FS" -exec touch -h -d "@$EPOCH" {} +

# ---- 2. the ext4 filesystem ---------------------------------------------------------------
PART="$WORK/part.ext4"
mkfs.ext4 -q -F -t ext4 -b 4096 -L "$NAME" -U "$FS_UUID" \
  -E "hash_seed=$FS_HASH_SEED,root_owner=0:0" -d "$FS" "$PART" "${PART_MIB}M" >/dev/null
# mkfs -d copies each source file's ctime (which touch cannot set): pin it, and every other
# inode time, to EPOCH so the filesystem bytes do not depend on when the build ran.
{
  (cd "$FS" && find . -mindepth 1 | sort | sed 's|^\.||') | while read -r p; do
    for f in ctime atime mtime crtime; do echo "set_inode_field $p $f @$EPOCH"; done
  done
  for f in ctime atime mtime crtime; do
    echo "set_inode_field / $f @$EPOCH"
    echo "set_inode_field /lost+found $f @$EPOCH"
  done
} > "$WORK/debugfs.cmd"
debugfs -w -f "$WORK/debugfs.cmd" "$PART" >/dev/null 2>"$WORK/debugfs.err" || { cat "$WORK/debugfs.err" >&2; exit 1; }
if grep -v '^debugfs ' "$WORK/debugfs.err" | grep -q .; then cat "$WORK/debugfs.err" >&2; exit 1; fi
e2fsck -fn "$PART" >"$WORK/e2fsck.out" 2>&1 || { cat "$WORK/e2fsck.out" >&2; exit 1; }

# ---- 3. the raw disk: GPT + partition -----------------------------------------------------
RAW="$WORK/$NAME-disk1.raw"
truncate -s "${DISK_MIB}M" "$RAW"
dd if="$PART" of="$RAW" bs=1M seek=1 conv=notrunc status=none
"$TSX" "$ROOT/scripts/write-gpt.ts" "$RAW" --disk-guid "$DISK_GUID" --part-guid "$PART_GUID" \
  --first-lba "$PART_FIRST_LBA" --last-lba "$PART_LAST_LBA" --name "$NAME-root"

# ---- 4. streamOptimized VMDK ----------------------------------------------------------------
VMDK="$NAME-disk1.vmdk"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic "$RAW" "$WORK/$VMDK"
# The embedded descriptor carries a random CID (printed without zero padding, so its length
# varies); rewrite the descriptor text inside its reserved sectors with a fixed one.
node -e '
  const fs = require("node:fs");
  const [file, cid] = process.argv.slice(1);
  const buf = fs.readFileSync(file);
  const start = Number(buf.readBigUInt64LE(28)) * 512; // descriptorOffset (sectors)
  const size = Number(buf.readBigUInt64LE(36)) * 512; // descriptorSize (sectors)
  const region = buf.subarray(start, start + size);
  const nul = region.indexOf(0);
  const text = region.toString("latin1", 0, nul < 0 ? size : nul);
  if (!/^CID=[0-9a-f]{1,8}$/m.test(text)) {
    console.error("build-sample-vm: no CID line in the VMDK descriptor"); process.exit(1);
  }
  const fixed = text.replace(/^CID=[0-9a-f]{1,8}$/m, "CID=" + cid);
  if (fixed.length >= size) { console.error("build-sample-vm: VMDK descriptor too long"); process.exit(1); }
  region.fill(0);
  region.write(fixed, 0, "latin1");
  fs.writeFileSync(file, buf);
' "$WORK/$VMDK" "$VMDK_CID"
version=$(od -An -tu4 -j4 -N4 "$WORK/$VMDK" | tr -d ' ')
[ "$version" -ge 3 ] || { echo "build-sample-vm: VMDK header version $version < 3 (ESXi rejects it)" >&2; exit 1; }
qemu-img check -f vmdk "$WORK/$VMDK" >/dev/null
qemu-img compare -f raw -F vmdk "$RAW" "$WORK/$VMDK" >/dev/null
VMDK_SIZE=$(stat -c %s "$WORK/$VMDK")

# ---- 5. OVF descriptor ----------------------------------------------------------------------
OVF="$NAME.ovf"
cat > "$WORK/$OVF" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!--Generated by burstgate scripts/build-sample-vm.sh-->
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="$VMDK" ovf:id="file1" ovf:size="$VMDK_SIZE"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="$DISK_MIB" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network">
      <Description>The VM Network network</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="$NAME">
    <Info>A virtual machine</Info>
    <Name>$NAME</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="otherLinux64Guest">
      <Info>The kind of installed guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>$NAME</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of Virtual CPUs</rasd:Description>
        <rasd:ElementName>1 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>512MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>512</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SCSI Controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>E1000 ethernet adapter on &quot;VM Network&quot;</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="bios"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
EOF

# ---- 6. manifest and OVA --------------------------------------------------------------------
MF="$NAME.mf"
(cd "$WORK" && for f in "$OVF" "$VMDK"; do printf 'SHA256(%s)= %s\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)"; done) > "$WORK/$MF"
chmod 0644 "$WORK/$OVF" "$WORK/$VMDK" "$WORK/$MF"
OVA="$NAME.ova"
tar --format=ustar --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner --mode=0644 \
  -C "$WORK" -cf "$WORK/$OVA" "$OVF" "$VMDK" "$MF"

RAW_SHA=$(sha256sum "$RAW" | cut -d' ' -f1)
OVA_SHA=$(sha256sum "$WORK/$OVA" | cut -d' ' -f1)
printf '%s  %s\n%s  %s\n' "$RAW_SHA" "$NAME-disk1.raw" "$OVA_SHA" "$OVA" > "$WORK/SHA256SUMS"

if [ "$CHECK" = 1 ]; then
  if cmp -s "$WORK/$OVA" "$OUT/$OVA" && cmp -s "$WORK/SHA256SUMS" "$OUT/SHA256SUMS"; then
    echo "build-sample-vm: rebuilt $OVA is byte-identical to $OUT/$OVA"
    exit 0
  fi
  echo "build-sample-vm: rebuilt $OVA differs from $OUT/$OVA (ova sha256 $OVA_SHA)" >&2
  exit 1
fi

mkdir -p "$OUT"
cp "$WORK/$OVA" "$WORK/SHA256SUMS" "$OUT/"
echo "build-sample-vm: wrote $OUT/$OVA ($(stat -c %s "$OUT/$OVA") bytes)"
echo "  raw disk sha256 $RAW_SHA ($DISK_MIB MiB)"
echo "  ova      sha256 $OVA_SHA"
echo "  vmdk     $VMDK_SIZE bytes, header version $version"
