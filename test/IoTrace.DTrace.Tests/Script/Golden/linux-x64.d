#pragma D option quiet
#pragma D option switchrate=100hz
#pragma D option bufsize=16m
#pragma D option strsize=256
#pragma D option scratchsize=2048
#pragma D option zdefs
#pragma D option dynvarsize=32m
int sc[512];
int call[512];
int64_t gen[65537];
int64_t owner[65537];
int64_t ownergen[65537];
int64_t ownercontext[65537];
int64_t shared[65537];
int64_t sharedcount;
BEGIN {
  sc[0] = 1479; call[0] = 0;
  sc[17] = 1479; call[17] = 1;
  sc[19] = 1479; call[19] = 2;
  sc[295] = 1479; call[295] = 3;
  sc[327] = 1479; call[327] = 4;
  sc[45] = 1415; call[45] = 5;
  sc[47] = 1415; call[47] = 6;
  sc[1] = 1479; call[1] = 7;
  sc[18] = 1479; call[18] = 8;
  sc[20] = 1479; call[20] = 9;
  sc[296] = 1479; call[296] = 10;
  sc[328] = 1479; call[328] = 11;
  sc[44] = 1415; call[44] = 12;
  sc[46] = 1415; call[46] = 13;
  sc[40] = 1475; call[40] = 14;
  sc[326] = 1475; call[326] = 15;
  sc[275] = 1475; call[275] = 16;
  sc[217] = 1479; call[217] = 17;
  sc[257] = 625; call[257] = 18;
  sc[2] = 617; call[2] = 19;
  sc[3] = 1089; call[3] = 20;
  sc[262] = 2161; call[262] = 21;
  sc[4] = 105; call[4] = 22;
  sc[6] = 105; call[6] = 23;
  sc[5] = 1091; call[5] = 24;
  sc[332] = 2161; call[332] = 25;
  sc[42] = 1027; call[42] = 26;
  sc[43] = 513; call[43] = 27;
  sc[288] = 513; call[288] = 28;
  sc[49] = 1027; call[49] = 29;
  sc[41] = 513; call[41] = 30;
  sc[53] = 1; call[53] = 31;
  sc[48] = 1027; call[48] = 32;
  sc[52] = 1027; call[52] = 33;
  sc[72] = 1091; call[72] = 34;
  sc[74] = 1091; call[74] = 35;
  sc[75] = 1091; call[75] = 36;
  sc[7] = 4161; call[7] = 37;
  sc[271] = 4161; call[271] = 38;
  sc[23] = 65; call[23] = 39;
  sc[270] = 65; call[270] = 40;
  sc[50] = 1027; call[50] = 41;
  sc[51] = 1027; call[51] = 42;
  sc[54] = 1027; call[54] = 43;
  sc[55] = 1027; call[55] = 44;
  sc[16] = 1091; call[16] = 45;
  sc[8] = 1091; call[8] = 46;
  sc[77] = 1091; call[77] = 47;
  sc[285] = 1091; call[285] = 48;
  sc[221] = 1091; call[221] = 49;
  sc[73] = 1091; call[73] = 50;
  sc[91] = 1091; call[91] = 51;
  sc[138] = 1091; call[138] = 52;
  sc[137] = 105; call[137] = 53;
  sc[21] = 105; call[21] = 54;
  sc[269] = 2161; call[269] = 55;
  sc[439] = 2161; call[439] = 56;
  sc[90] = 105; call[90] = 57;
  sc[268] = 2161; call[268] = 58;
  sc[280] = 2161; call[280] = 59;
  sc[83] = 105; call[83] = 60;
  sc[258] = 2161; call[258] = 61;
  sc[84] = 105; call[84] = 62;
  sc[87] = 105; call[87] = 63;
  sc[263] = 2161; call[263] = 64;
  sc[82] = 105; call[82] = 65;
  sc[264] = 2161; call[264] = 66;
  sc[316] = 2161; call[316] = 67;
  sc[86] = 2161; call[86] = 68;
  sc[88] = 2161; call[88] = 69;
  sc[265] = 65; call[265] = 70;
  sc[266] = 65; call[266] = 71;
  sc[89] = 105; call[89] = 72;
  sc[267] = 2161; call[267] = 73;
}
BEGIN { printf("R\n"); }
sdt:raw_syscalls::sys_enter /pid == 4242/ { this->s = args[0] >= 0 && args[0] < 512 ? sc[args[0]] : 0; }
sdt:raw_syscalls::sys_enter /pid == 4242 && this->s/ { this->slot = (uint64_t *)copyin(0x10000 + tid * 16, 16); self->trace = this->slot[0]; self->context = this->slot[0] ? this->slot[1] & 8 : 0; self->site = this->slot[0] ? this->slot[1] >> 40 : 0; }
sdt:raw_syscalls::sys_enter /pid == 4242 && (this->s & 2) && !self->trace && ((int)uregs[R_RDI] >= 0 && (int)uregs[R_RDI] < 65536) && owner[(int)uregs[R_RDI]] && ownergen[(int)uregs[R_RDI]] == gen[(int)uregs[R_RDI]]/ { self->trace = owner[(int)uregs[R_RDI]]; self->context = ownercontext[(int)uregs[R_RDI]]; self->owned = 1; }
sdt:raw_syscalls::sys_enter /pid == 4242 && (this->s & 4) && !self->trace && sharedcount && ((int)uregs[R_RDI] >= 0 && (int)uregs[R_RDI] < 65536) && shared[(int)uregs[R_RDI]]/ { self->trace = shared[(int)uregs[R_RDI]]; self->context = 0; self->shared = 1; }
sdt:raw_syscalls::sys_enter /pid == 4242 && self->trace/ { self->ts = timestamp; self->arg0 = (this->s & 4096) ? (int64_t)-1 : (int64_t)uregs[R_RDI]; self->gen0 = !(this->s & 4096) && ((int)uregs[R_RDI] >= 0 && (int)uregs[R_RDI] < 65536) ? gen[(int)uregs[R_RDI]] : 0; }
sdt:raw_syscalls::sys_enter /pid == 4242 && self->context && (((this->s & 8) && uregs[R_RDI]) || ((this->s & 16) && uregs[R_RSI]))/ { self->path = copyinstr((this->s & 8) ? uregs[R_RDI] : uregs[R_RSI]); }
sdt:raw_syscalls::sys_enter /pid == 4242 && self->trace && (this->s & 32) && self->path == 0/ { self->path = ""; }
sdt:raw_syscalls::sys_enter /pid == 4242 && self->context && args[0] == 42/ { this->a = (uint64_t *)copyin(uregs[R_RSI], 24); self->a0 = this->a[0]; self->a1 = this->a[1]; self->a2 = this->a[2]; }
sdt:raw_syscalls::sys_enter /pid == 4242 && self->trace && (this->s & 4096) && uregs[R_RSI] == 1/ { self->arg0 = *(int *)copyin(uregs[R_RDI], 4); self->gen0 = (self->arg0 >= 0 && self->arg0 < 65536) ? gen[(int)self->arg0] : 0; }
sdt:raw_syscalls::sys_enter /pid == 4242 && args[0] == 3 && ((int)uregs[R_RDI] >= 0 && (int)uregs[R_RDI] < 65536)/ { gen[(int)uregs[R_RDI]] = gen[(int)uregs[R_RDI]] + 1; owner[(int)uregs[R_RDI]] = 0; shared[(int)uregs[R_RDI]] = 0; }
sdt:raw_syscalls::sys_enter /pid == 4242 && args[0] == 157 && uregs[R_RDI] == 1229935699 && ((int)uregs[R_RSI] >= 0 && (int)uregs[R_RSI] < 65536)/ { shared[(int)uregs[R_RSI]] = (int64_t)uregs[R_RDX]; sharedcount = (int64_t)uregs[R_R10]; }
sdt:raw_syscalls::sys_enter /pid == 4242 && args[0] == 157 && uregs[R_RDI] == 1229935698/ { printf("F %d %d\n", cpu, uregs[R_RSI]); }
sdt:raw_syscalls::sys_exit { this->deep = (uint64_t)0; this->mine = pid == 4242; }
sdt:raw_syscalls::sys_exit /this->mine && self->trace/ {
  this->s = sc[args[0]]; this->call = call[args[0]]; this->bytes = (this->s & 256) && args[1] > 0 ? (int64_t)args[1] : (int64_t)0;
  this->onarg = (this->s & 1024) || ((this->s & 2048) && self->path == "" && self->arg0 >= 0) || ((this->s & 4096) && self->arg0 >= 0);
  this->onresult = !this->onarg && (this->s & 512) && args[1] >= 0;
  this->fd = !self->context ? (int64_t)-1 : this->onarg ? self->arg0 : this->onresult ? (int64_t)args[1] : (int64_t)-1;
  this->gen = !self->context ? (int64_t)0 : this->onarg ? self->gen0 : this->onresult && args[1] < 65536 ? gen[this->onresult && args[1] < 65536 ? (int)args[1] : 65536] : (int64_t)0;
  this->deep = self->context;
  this->pc = (uint64_t)0; this->r0 = (uint64_t)0; this->r1 = (uint64_t)0; this->r2 = (uint64_t)0; this->r3 = (uint64_t)0; this->r4 = (uint64_t)0; this->r5 = (uint64_t)0; this->r6 = (uint64_t)0; this->r7 = (uint64_t)0; this->r8 = (uint64_t)0; this->r9 = (uint64_t)0; this->r10 = (uint64_t)0; this->r11 = (uint64_t)0; this->r12 = (uint64_t)0; this->r13 = (uint64_t)0; this->r14 = (uint64_t)0; this->r15 = (uint64_t)0; this->r16 = (uint64_t)0; this->r17 = (uint64_t)0; this->r18 = (uint64_t)0; this->r19 = (uint64_t)0; this->r20 = (uint64_t)0; this->r21 = (uint64_t)0; this->r22 = (uint64_t)0; this->r23 = (uint64_t)0; this->r24 = (uint64_t)0; this->r25 = (uint64_t)0; this->r26 = (uint64_t)0; this->r27 = (uint64_t)0; this->r28 = (uint64_t)0; this->r29 = (uint64_t)0; this->r30 = (uint64_t)0; this->r31 = (uint64_t)0; this->r32 = (uint64_t)0; this->r33 = (uint64_t)0; this->r34 = (uint64_t)0; this->r35 = (uint64_t)0; this->r36 = (uint64_t)0; this->r37 = (uint64_t)0; this->r38 = (uint64_t)0; this->r39 = (uint64_t)0; this->r40 = (uint64_t)0;
}
sdt:raw_syscalls::sys_exit /this->mine && self->trace && (self->context || (this->s & 64))/ {
  this->e = (uint64_t *)copyin(SITE_GROUPS + ((uregs[R_PC] * 0xff51afd7ed558ccd) >> 52) * 8, 8);
  this->e = (uint64_t *)copyin(SITES + (((uregs[R_PC] + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16);
  this->v = this->e[0] == uregs[R_PC] ? this->e[1] : 0;
  this->c = this->v & 0x7fffffff; this->so = this->v >> 32;
}
sdt:raw_syscalls::sys_exit /this->mine && self->trace && !self->context && (this->s & 64) && this->c/ { this->ret = *(uint64_t *)copyin(uregs[R_SP] + this->c - 8, 8); this->deep = (this->ret >= 0x7f0000000000 && this->ret < 0x7f0000200000) || (this->ret >= 0x7f1000000000 && this->ret < 0x7f1000400000); }
sdt:raw_syscalls::sys_exit /this->mine && this->deep/ {
  this->pc = uregs[R_PC]; this->sp = uregs[R_SP];
  this->w = (uint64_t *)copyin(this->sp + (this->c ? this->c - 16 : 0), 16);
  this->r0 = this->c ? this->w[1] : 0;
  this->fp = this->c && this->so ? *(uint64_t *)copyin(this->sp + this->c - this->so, 8) : uregs[R_RBP];
  this->ok = this->fp >= this->sp && this->fp - this->sp < 8388608;
  this->ip = this->r0; this->cfa = this->sp + this->c; this->pre = (uint64_t)0;
  this->up = this->c && this->fp >= this->cfa && this->fp - this->cfa < 1048576 ? *(uint64_t *)copyin(this->fp, 8) : 0;
  this->native = this->c && (!self->context || this->up <= this->fp || this->up - this->fp >= 1048576);
}
sdt:raw_syscalls::sys_exit /this->mine && this->deep && this->native/ {
  this->e = (uint64_t *)copyin(RULE_GROUPS + ((this->ip * 0xff51afd7ed558ccd) >> 52) * 8, 8);
  this->e = (uint64_t *)copyin(RULES + (((this->ip + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16);
  this->v = this->e[0] == this->ip ? this->e[1] : 0;
  this->next = ((this->v & 2147483648) ? this->fp : this->cfa) + (this->v & 0x7fffffff);
  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;
  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;
  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;
  this->cfa = this->native ? this->next : this->cfa;
  this->pre = this->native ? this->ip : this->pre;
  this->e = this->native ? (uint64_t *)copyin(RULE_GROUPS + ((this->ip * 0xff51afd7ed558ccd) >> 52) * 8, 8) : this->e;
  this->e = this->native ? (uint64_t *)copyin(RULES + (((this->ip + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16) : this->e;
  this->v = this->native && this->e[0] == this->ip ? this->e[1] : 0;
  this->next = ((this->v & 2147483648) ? this->fp : this->cfa) + (this->v & 0x7fffffff);
  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;
  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;
  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;
  this->cfa = this->native ? this->next : this->cfa;
  this->pre = this->native ? this->ip : this->pre;
  this->e = this->native ? (uint64_t *)copyin(RULE_GROUPS + ((this->ip * 0xff51afd7ed558ccd) >> 52) * 8, 8) : this->e;
  this->e = this->native ? (uint64_t *)copyin(RULES + (((this->ip + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16) : this->e;
  this->v = this->native && this->e[0] == this->ip ? this->e[1] : 0;
  this->next = ((this->v & 2147483648) ? this->fp : this->cfa) + (this->v & 0x7fffffff);
  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;
  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;
  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;
  this->cfa = this->native ? this->next : this->cfa;
  this->pre = this->native ? this->ip : this->pre;
  this->e = this->native ? (uint64_t *)copyin(RULE_GROUPS + ((this->ip * 0xff51afd7ed558ccd) >> 52) * 8, 8) : this->e;
  this->e = this->native ? (uint64_t *)copyin(RULES + (((this->ip + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16) : this->e;
  this->v = this->native && this->e[0] == this->ip ? this->e[1] : 0;
  this->next = ((this->v & 2147483648) ? this->fp : this->cfa) + (this->v & 0x7fffffff);
  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;
  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;
  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;
  this->cfa = this->native ? this->next : this->cfa;
  this->pre = this->native ? this->ip : this->pre;
  this->ok = this->pre ? this->fp >= this->cfa && this->fp - this->cfa < 8388608 : this->ok;
  this->r1 = this->pre;
}
sdt:raw_syscalls::sys_exit /this->mine && this->deep && this->native/ {
  this->e = (uint64_t *)copyin(RULE_GROUPS + ((this->ip * 0xff51afd7ed558ccd) >> 52) * 8, 8);
  this->e = (uint64_t *)copyin(RULES + (((this->ip + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16);
  this->v = this->e[0] == this->ip ? this->e[1] : 0;
  this->next = ((this->v & 2147483648) ? this->fp : this->cfa) + (this->v & 0x7fffffff);
  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;
  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;
  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;
  this->cfa = this->native ? this->next : this->cfa;
  this->pre = this->native ? this->ip : this->pre;
  this->e = this->native ? (uint64_t *)copyin(RULE_GROUPS + ((this->ip * 0xff51afd7ed558ccd) >> 52) * 8, 8) : this->e;
  this->e = this->native ? (uint64_t *)copyin(RULES + (((this->ip + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16) : this->e;
  this->v = this->native && this->e[0] == this->ip ? this->e[1] : 0;
  this->next = ((this->v & 2147483648) ? this->fp : this->cfa) + (this->v & 0x7fffffff);
  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;
  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;
  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;
  this->cfa = this->native ? this->next : this->cfa;
  this->pre = this->native ? this->ip : this->pre;
  this->e = this->native ? (uint64_t *)copyin(RULE_GROUPS + ((this->ip * 0xff51afd7ed558ccd) >> 52) * 8, 8) : this->e;
  this->e = this->native ? (uint64_t *)copyin(RULES + (((this->ip + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16) : this->e;
  this->v = this->native && this->e[0] == this->ip ? this->e[1] : 0;
  this->next = ((this->v & 2147483648) ? this->fp : this->cfa) + (this->v & 0x7fffffff);
  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;
  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;
  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;
  this->cfa = this->native ? this->next : this->cfa;
  this->pre = this->native ? this->ip : this->pre;
  this->e = this->native ? (uint64_t *)copyin(RULE_GROUPS + ((this->ip * 0xff51afd7ed558ccd) >> 52) * 8, 8) : this->e;
  this->e = this->native ? (uint64_t *)copyin(RULES + (((this->ip + this->e[0]) * 0x9e3779b97f4a7c15) >> 49) * 16, 16) : this->e;
  this->v = this->native && this->e[0] == this->ip ? this->e[1] : 0;
  this->next = ((this->v & 2147483648) ? this->fp : this->cfa) + (this->v & 0x7fffffff);
  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;
  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;
  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;
  this->cfa = this->native ? this->next : this->cfa;
  this->pre = this->native ? this->ip : this->pre;
  this->ok = this->pre ? this->fp >= this->cfa && this->fp - this->cfa < 8388608 : this->ok;
  this->r1 = this->pre;
}
sdt:raw_syscalls::sys_exit /this->mine && self->context/ {
  this->w = (uint64_t *)copyin(this->ok && !this->pre ? this->fp : this->sp, 16); this->r1 = this->pre ? this->pre : this->ok ? this->w[1] : 0; this->n = this->pre ? this->fp : this->ok ? this->w[0] : 0;
  this->ok = this->ok && (this->pre || (this->n > this->fp && this->n - this->fp < 1048576)); this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r2 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r3 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r4 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r5 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r6 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r7 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r8 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r9 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r10 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r11 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r12 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r13 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r14 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r15 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r16 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r17 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r18 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r19 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r20 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
}
sdt:raw_syscalls::sys_exit /this->mine && self->context/ {
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r21 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r22 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r23 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r24 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r25 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r26 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r27 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r28 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r29 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r30 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r31 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r32 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r33 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r34 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r35 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r36 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r37 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r38 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r39 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r40 = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;
  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;
}
sdt:raw_syscalls::sys_exit /this->mine && self->trace && ((this->s & 128) || args[0] == 42) && (self->arg0 >= 0 && self->arg0 < 65536)/ {
  this->take = ((this->s & 128) && args[1] == -11 && !self->shared) || (args[0] == 42 && args[1] == -115);
  this->release = self->owned && (this->s & 128) && args[1] != -11;
  this->i = this->take || this->release ? (int)self->arg0 : 65536; owner[this->i] = this->take ? self->trace : 0;
  this->i = this->take ? (int)self->arg0 : 65536; ownergen[this->i] = self->gen0; ownercontext[this->i] = self->context;
}
sdt:raw_syscalls::sys_exit /this->mine && self->context && args[0] == 42 && self->arg0 >= 0/ { printf("N %d %d %d %x %x %x\n", self->trace, self->arg0, self->gen0, self->a0, self->a1, self->a2); }
sdt:raw_syscalls::sys_exit /this->mine && self->trace && !self->context/ { printf("S %d %d %d %d %d %d %d %x %x %x\n", self->trace, self->site, this->call, this->fd, this->gen, this->bytes, timestamp - self->ts, this->pc, this->r0, this->r1); self->trace = 0; self->site = 0; self->context = 0; self->owned = 0; self->ts = 0; self->arg0 = 0; self->gen0 = 0; self->path = 0; self->a0 = 0; self->a1 = 0; self->a2 = 0; self->shared = 0; }
sdt:raw_syscalls::sys_exit /this->mine && self->trace && !(this->s & 32)/ { printf("C %d %d %d %d %d %d %d %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x\n", self->trace, self->site, this->call, this->fd, this->gen, this->bytes, timestamp - self->ts, this->pc, this->r0, this->r1, this->r2, this->r3, this->r4, this->r5, this->r6, this->r7, this->r8, this->r9, this->r10, this->r11, this->r12, this->r13, this->r14, this->r15, this->r16, this->r17, this->r18, this->r19, this->r20, this->r21, this->r22, this->r23, this->r24, this->r25, this->r26, this->r27, this->r28, this->r29, this->r30, this->r31, this->r32, this->r33, this->r34, this->r35, this->r36, this->r37, this->r38, this->r39, this->r40); self->trace = 0; self->site = 0; self->context = 0; self->owned = 0; self->ts = 0; self->arg0 = 0; self->gen0 = 0; self->path = 0; self->a0 = 0; self->a1 = 0; self->a2 = 0; self->shared = 0; }
sdt:raw_syscalls::sys_exit /this->mine && self->trace && (this->s & 32)/ { printf("P %d %d %d %d %d %d %d %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %s\n", self->trace, self->site, this->call, this->fd, this->gen, this->bytes, timestamp - self->ts, this->pc, this->r0, this->r1, this->r2, this->r3, this->r4, this->r5, this->r6, this->r7, this->r8, this->r9, this->r10, this->r11, this->r12, this->r13, this->r14, this->r15, this->r16, this->r17, this->r18, this->r19, this->r20, this->r21, this->r22, this->r23, this->r24, this->r25, this->r26, this->r27, this->r28, this->r29, this->r30, this->r31, this->r32, this->r33, this->r34, this->r35, this->r36, this->r37, this->r38, this->r39, this->r40, self->path); self->trace = 0; self->site = 0; self->context = 0; self->owned = 0; self->ts = 0; self->arg0 = 0; self->gen0 = 0; self->path = 0; self->a0 = 0; self->a1 = 0; self->a2 = 0; self->shared = 0; }
proc:::exit /pid == 4242/ { exit(0); }
tick-1s { printf("T\n"); }
