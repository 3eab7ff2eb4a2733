// Module crashgen is the crasher that produces the real Go crash outputs in
// ../go1.*/. It is its own module, with an old go line, so that every Go
// release from 1.23 on can build it (the parent module requires 1.25).
module example.com/crashgen

go 1.23
