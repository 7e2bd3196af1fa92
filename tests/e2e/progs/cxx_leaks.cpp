// A C++ program heavy on std::vector, std::string and std::map that leaks
// through operator new in leaky::Registry::make_node. Every Node costs
// exactly one `new Node` in make_node (the containers inside it allocate
// elsewhere, in libstdc++ template code), so at HEAPPROF_RATE=1 make_node
// must own exactly kNodes objects of sizeof(Node) bytes.
// Exceptions are thrown and caught too: __cxa_allocate_exception mallocs, and
// unwinding must still work with the profiler's stack walks in the process.
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace leaky {

struct Node {
    std::string name;
    std::vector<int> data;
    std::map<int, std::string> attrs;
};

constexpr int kNodes = 5000;

class Registry {
public:
    // Leaks on purpose: nodes are never deleted.
    __attribute__((noinline)) Node *make_node(int i)
    {
        Node *n = new Node;
        n->name = "node-" + std::to_string(i) + std::string(40, 'x');
        for (int j = 0; j < 50; j++)
            n->data.push_back(i * j);
        n->attrs[i] = n->name;
        return n;
    }
    std::vector<Node *> nodes;
};

__attribute__((noinline)) std::size_t churn_strings()
{
    std::map<std::string, std::vector<std::string>> m;
    for (int i = 0; i < 20000; i++)
        m["k" + std::to_string(i % 500)].push_back(std::string(100, char('a' + i % 26)));
    std::size_t total = 0;
    for (auto &kv : m)
        total += kv.second.size();
    return total; // m and everything in it is freed here
}

__attribute__((noinline)) int throw_some()
{
    int caught = 0;
    for (int i = 0; i < 200; i++) {
        try {
            throw std::runtime_error("boom " + std::to_string(i));
        } catch (const std::runtime_error &) {
            caught++;
        }
    }
    return caught;
}

} // namespace leaky

int main()
{
    static leaky::Registry reg; // static: the nodes stay reachable, yet are never freed
    for (int i = 0; i < leaky::kNodes; i++)
        reg.nodes.push_back(reg.make_node(i));
    std::printf("churned %zu strings\n", leaky::churn_strings());
    std::printf("caught %d exceptions\n", leaky::throw_some());
    unsigned long long n = leaky::kNodes;
    std::printf("truth make_node alloc_objects=%llu alloc_space=%llu inuse_objects=%llu "
                "inuse_space=%llu\n",
                n, n * sizeof(leaky::Node), n, n * sizeof(leaky::Node));
    return 0;
}
