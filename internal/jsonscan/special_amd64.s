//go:build !purego

#include "textflag.h"

// func IndexSpecial(s []byte) int
//
// Returns the index of the first byte of s that is '"' (0x22), '\\' (0x5c)
// or below 0x20, or len(s). Sixteen bytes per step with SSE2: two equality
// compares, and x <= 0x1f tested as min(x, 0x1f) == x (PMINUB is unsigned).
// The last partial block is done a byte at a time, so no load ever reads
// past the end of s.
TEXT ·IndexSpecial(SB), NOSPLIT, $0-32
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), BX
	XORQ AX, AX                     // AX: index of the current block

	MOVQ $0x2222222222222222, DX
	MOVQ DX, X1
	PUNPCKLQDQ X1, X1               // X1: '"' in every byte
	MOVQ $0x5c5c5c5c5c5c5c5c, DX
	MOVQ DX, X2
	PUNPCKLQDQ X2, X2               // X2: '\\' in every byte
	MOVQ $0x1f1f1f1f1f1f1f1f, DX
	MOVQ DX, X3
	PUNPCKLQDQ X3, X3               // X3: 0x1f in every byte

block:
	LEAQ 16(AX), DX
	CMPQ DX, BX
	JHI  tail                       // fewer than 16 bytes left
	MOVOU (SI)(AX*1), X0
	MOVO  X0, X4
	PCMPEQB X1, X4                  // X4: byte == '"'
	MOVO  X0, X5
	PCMPEQB X2, X5                  // X5: byte == '\\'
	MOVO  X0, X6
	PMINUB X3, X6
	PCMPEQB X0, X6                  // X6: byte <= 0x1f
	POR   X5, X4
	POR   X6, X4
	PMOVMSKB X4, DX                 // bit k set: byte k is special
	TESTL DX, DX
	JNZ   found
	ADDQ  $16, AX
	JMP   block

found:
	BSFL DX, DX                     // the lowest bit is the first special byte
	ADDQ DX, AX
	MOVQ AX, ret+24(FP)
	RET

tail:
	CMPQ AX, BX
	JAE  done
	MOVBLZX (SI)(AX*1), DX
	CMPB DL, $0x22
	JEQ  done
	CMPB DL, $0x5c
	JEQ  done
	CMPB DL, $0x20
	JCS  done                       // unsigned below 0x20
	INCQ AX
	JMP  tail

done:
	MOVQ AX, ret+24(FP)
	RET
