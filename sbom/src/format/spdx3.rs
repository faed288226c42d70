//! (To be implemented.)
use crate::format::DocumentInfo;
use crate::inventory::Inventory;

pub fn write(_inv: &Inventory, _info: &DocumentInfo, _out: &mut dyn std::io::Write) -> std::io::Result<()> {
    Err(std::io::Error::other("spdx3 writer not implemented yet"))
}
