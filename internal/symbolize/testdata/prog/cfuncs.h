int c_crash_here(int x);
