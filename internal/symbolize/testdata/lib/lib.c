// A plain C shared library for the symbolize tests, built with
// gcc -shared -fPIC -g -Wl,--build-id.

__attribute__((noinline)) static int lib_helper(int x) {
	volatile int y = x;
	return y * 5;
}

int lib_func(int x) {
	return lib_helper(x) + 3;
}
