package rpm

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
)

// The reader library trusts the counts and lengths inside a database: a
// corrupt or hostile one can make it allocate gigabytes, loop for minutes
// or print to stdout. These checks reject such databases first, for the
// formats whose blobs are easy to reach (SQLite and NDB); for Berkeley DB
// files the metadata page is checked and the reader runs under the time
// limit of Extract.

const (
	maxHeaderTags  = 0xffff    // rpm's hdrchkTags
	maxHeaderBytes = 256 << 20 // rpm's headerMaxbytes
)

// checkHeaderBlob checks the index of one rpm header blob: tag count, data
// length and every entry's count against the blob's real size.
func checkHeaderBlob(b []byte) error {
	if len(b) < 8 {
		return fmt.Errorf("header blob of %d bytes is too short", len(b))
	}
	il := int64(int32(binary.BigEndian.Uint32(b)))
	dl := int64(int32(binary.BigEndian.Uint32(b[4:])))
	if il < 1 || il > maxHeaderTags {
		return fmt.Errorf("header blob has %d tags", il)
	}
	if dl < 0 || dl > maxHeaderBytes || 8+16*il+dl > int64(len(b)) {
		return fmt.Errorf("header blob claims %d tags and %d data bytes in %d bytes", il, dl, len(b))
	}
	for i := int64(0); i < il; i++ {
		e := b[8+16*i:]
		offset := int64(int32(binary.BigEndian.Uint32(e[8:])))
		count := int64(binary.BigEndian.Uint32(e[12:]))
		if offset < 0 || offset > dl || count > dl+16 {
			return fmt.Errorf("header tag %d: offset %d, count %d beyond %d data bytes", i, offset, count, dl)
		}
	}
	return nil
}

// checkSQLite checks that file is an rpm SQLite database and that every
// header blob in it is sound.
func checkSQLite(file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT blob FROM Packages")
	if err != nil {
		return fmt.Errorf("not an rpm sqlite database: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("package %d: %w", n, err)
		}
		if err := checkHeaderBlob(blob); err != nil {
			return fmt.Errorf("package %d: %w", n, err)
		}
	}
	return rows.Err()
}

// checkBDB checks the metadata page of a Berkeley DB hash file: a page
// size rpm can write and a last page inside the file.
func checkBDB(b []byte) error {
	if len(b) < 72 {
		return nil
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(b[12:]) == 0x061561:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(b[12:]) == 0x061561:
		order = binary.BigEndian
	default:
		return nil // not a Berkeley DB hash file
	}
	pageSize := int64(order.Uint32(b[20:]))
	last := int64(order.Uint32(b[32:]))
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("page size %d in the Berkeley DB metadata", pageSize)
	}
	if (last+1)*pageSize > int64(len(b)) {
		return fmt.Errorf("the Berkeley DB metadata claims %d pages of %d bytes in %d bytes", last+1, pageSize, len(b))
	}
	return nil
}

var (
	ndbMagic     = []byte("RpmP")
	ndbSlotMagic = []byte("Slot")
	ndbBlobMagic = []byte("BlbS")
)

// checkNDB walks an NDB Packages.db the way the reader does (header, slot
// pages, blobs) and checks every magic, offset and length.
func checkNDB(b []byte) error {
	if len(b) < 32 || !bytes.Equal(b[:4], ndbMagic) {
		return nil // not NDB: the reader tries the other formats
	}
	le := binary.LittleEndian
	pages := int64(le.Uint32(b[12:]))
	if le.Uint32(b[4:]) != 0 || pages == 0 || pages > 2048 || pages*4096 > int64(len(b)) {
		return fmt.Errorf("NDB header: version %d, %d slot pages in %d bytes", le.Uint32(b[4:]), pages, len(b))
	}
	slots := pages*256 - 2
	for i := int64(0); i < slots; i++ {
		s := b[32+16*i:]
		if !bytes.Equal(s[:4], ndbSlotMagic) {
			return fmt.Errorf("NDB slot %d: bad magic", i)
		}
		pkg := le.Uint32(s[4:])
		if pkg == 0 {
			continue
		}
		off := int64(le.Uint32(s[8:])) * 16
		if off+16 > int64(len(b)) {
			return fmt.Errorf("NDB slot %d: blob offset %d beyond the file", i, off)
		}
		h := b[off:]
		blobLen := int64(le.Uint32(h[12:]))
		if !bytes.Equal(h[:4], ndbBlobMagic) || le.Uint32(h[4:]) != pkg || off+16+blobLen > int64(len(b)) {
			return fmt.Errorf("NDB slot %d: bad blob at offset %d (length %d)", i, off, blobLen)
		}
		if err := checkHeaderBlob(h[16 : 16+blobLen]); err != nil {
			return fmt.Errorf("NDB package %d: %w", pkg, err)
		}
	}
	return nil
}
