// A C++ program that leans on the standard library: containers of every kind,
// strings, streams, regex, shared_ptr graphs, std::function, exceptions,
// threads with futures and a mutex-protected shared map. Output is
// deterministic (checksums), so the test compares it byte for byte with a run
// without the library.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 1099511628211ull; }

struct Node {
    int id;
    std::vector<std::shared_ptr<Node>> kids;
    std::weak_ptr<Node> parent;
    std::string label;
};

static uint64_t containers(int seed) {
    uint64_t h = 1469598103934665603ull;
    std::map<std::string, std::vector<int>> m;
    std::unordered_map<int, std::string> um;
    std::set<long> s;
    std::list<std::string> l;
    std::deque<int> d;
    for (int i = 0; i < 12000; i++) {
        int k = (i * 7919 + seed) % 5003;
        m["k" + std::to_string(k)].push_back(i);
        um[k] += static_cast<char>('a' + i % 26);
        s.insert(static_cast<long>(k) * i);
        if (i % 3 == 0)
            l.push_front(std::to_string(i));
        d.push_back(i);
        if (d.size() > 1000)
            d.pop_front();
    }
    for (auto &kv : m)
        h = mix(h, kv.second.size() + kv.first.size());
    std::vector<std::pair<int, std::string>> v(um.begin(), um.end());
    std::sort(v.begin(), v.end());
    for (auto &p : v)
        h = mix(h, p.first + p.second.size());
    h = mix(h, s.size());
    l.sort();
    l.unique();
    h = mix(h, l.size());
    h = mix(h, std::accumulate(d.begin(), d.end(), 0ull));
    return h;
}

static uint64_t strings_and_streams() {
    std::ostringstream os;
    for (int i = 0; i < 8000; i++)
        os << "item " << i << " = " << i * 0.25 << '\n';
    std::istringstream is(os.str());
    std::string line, word;
    uint64_t h = 0;
    std::regex re("item ([0-9]+)7 = ");
    int matches = 0;
    while (std::getline(is, line)) {
        std::smatch sm;
        if (std::regex_search(line, sm, re))
            matches++;
        std::istringstream ls(line);
        while (ls >> word)
            h = mix(h, word.size());
    }
    return mix(h, matches);
}

static uint64_t graph() {
    auto root = std::make_shared<Node>();
    root->id = 0;
    std::vector<std::shared_ptr<Node>> all{root};
    for (int i = 1; i < 10000; i++) {
        auto n = std::make_shared<Node>();
        n->id = i;
        n->label = "node-" + std::to_string(i);
        auto &p = all[(i * 31) % all.size()];
        n->parent = p;
        p->kids.push_back(n);
        all.push_back(n);
    }
    uint64_t h = 0;
    std::function<void(const Node &, int)> walk = [&](const Node &n, int depth) {
        h = mix(h, n.id * 31 + depth);
        for (auto &k : n.kids)
            walk(*k, depth + 1);
    };
    walk(*root, 0);
    return h;
}

static uint64_t exceptions() {
    uint64_t h = 0;
    for (int i = 0; i < 2000; i++) {
        try {
            if (i % 3 == 0)
                throw std::runtime_error("failure number " + std::to_string(i));
            std::vector<int> v(10);
            h = mix(h, v.at(static_cast<size_t>(i % 12)));
        } catch (const std::exception &e) {
            h = mix(h, std::string(e.what()).size());
        }
    }
    return h;
}

int main() {
    std::mutex mu;
    std::map<int, uint64_t> shared;
    std::vector<std::future<uint64_t>> fs;
    for (int t = 0; t < 6; t++)
        fs.push_back(std::async(std::launch::async, [t, &mu, &shared] {
            uint64_t h = containers(t);
            std::lock_guard<std::mutex> g(mu);
            shared[t] = h;
            return h;
        }));
    std::vector<std::thread> ths;
    uint64_t sh[4] = {};
    for (int t = 0; t < 4; t++)
        ths.emplace_back([t, &sh] { sh[t] = t % 2 ? strings_and_streams() : exceptions(); });
    for (auto &th : ths)
        th.join();
    for (size_t i = 0; i < fs.size(); i++)
        std::cout << "containers " << i << " " << std::hex << fs[i].get() << std::dec << "\n";
    for (int t = 0; t < 4; t++)
        std::cout << "worker " << t << " " << std::hex << sh[t] << std::dec << "\n";
    std::cout << "graph " << std::hex << graph() << std::dec << "\n";
    std::cout << "shared " << shared.size() << "\n";
    return 0;
}
