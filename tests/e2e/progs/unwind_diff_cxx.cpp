// Differential unwinding, C++ (test_unwind.sh): allocations in virtual
// methods, in constructors of thrown exceptions and in catch blocks, and
// through std::function and containers, under HEAPPROF_UNWIND=compare.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct Shape {
    virtual ~Shape() = default;
    virtual std::vector<int> grow(int n) const = 0;
};
struct Square : Shape {
    std::vector<int> grow(int n) const override { return std::vector<int>(static_cast<size_t>(n) * 2, n); }
};
struct Circle : Shape {
    std::vector<int> grow(int n) const override {
        std::vector<int> v;
        for (int i = 0; i < n; i++)
            v.push_back(i);
        return v;
    }
};

__attribute__((noinline)) static int thrower(int depth, int n) {
    if (depth == 0)
        throw std::runtime_error(std::string(static_cast<size_t>(n % 50 + 20), 'x'));
    return thrower(depth - 1, n) + 1;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? std::atoi(argv[1]) : 2000;
    std::vector<std::unique_ptr<Shape>> shapes;
    std::map<int, std::string> names;
    long total = 0;
    for (int i = 0; i < rounds; i++) {
        if (i % 2)
            shapes.emplace_back(new Square);
        else
            shapes.emplace_back(new Circle);
        total += static_cast<long>(shapes.back()->grow(i % 100 + 1).size());
        try {
            thrower(i % 20, i);
        } catch (const std::exception &e) {
            names[i % 64] = e.what();
        }
        std::function<std::string(int)> f = [&](int k) { return std::to_string(k) + names[k % 64]; };
        total += static_cast<long>(f(i).size());
    }
    std::printf("total=%ld\n", total);
    return 0;
}
