<?php
// publish.php - publish events to Switchboard from PHP, no extension needed
// (the http:// stream wrapper; allow_url_fopen is on by default).
//
// Copy switchboard_publish() into your application, or run it from a shell:
//
//   SWITCHBOARD_URL=http://127.0.0.1:8080 php publish.php com.example.news '["hello"]' '{"n": 1}'
//
// switchboard_publish() returns the publication id once the event is stored
// and throws RuntimeException with the gateway's error when it was not.

function switchboard_publish(string $topic, array $args = [], array $kwargs = [],
                             ?string $url = null, float $timeout = 10.0): int
{
    $url = rtrim($url ?? (getenv('SWITCHBOARD_URL') ?: 'http://127.0.0.1:8080'), '/');
    // (object) keeps an empty kwargs a JSON object ({}), not a list ([]).
    $body = json_encode(['topic' => $topic, 'args' => array_values($args), 'kwargs' => (object) $kwargs],
                        JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: application/json\r\n",
        'content' => $body,
        'timeout' => $timeout,
        'ignore_errors' => true,   // read the JSON body of a 4xx reply too
    ]]);
    $text = @file_get_contents("$url/publish", false, $context);
    if ($text === false) {
        throw new RuntimeException("cannot reach $url");
    }
    // $http_response_header is set by file_get_contents: "HTTP/1.1 200 OK" first.
    preg_match('{^HTTP/\S+ (\d+)}', $http_response_header[0] ?? '', $m);
    $status = (int) ($m[1] ?? 0);
    $reply = json_decode($text, true);
    // 4xx: the gateway could not accept the request; 200 {"error"}: WAMP refused it.
    if ($status !== 200 || !is_array($reply) || isset($reply['error'])) {
        throw new RuntimeException("HTTP $status: " . ($reply['error'] ?? '') . ': ' . ($reply['args'][0] ?? $text));
    }
    return $reply['id'];
}

if (PHP_SAPI === 'cli' && realpath($argv[0]) === __FILE__) {
    if ($argc < 2) {
        fwrite(STDERR, "usage: php publish.php TOPIC [ARGS_JSON] [KWARGS_JSON]\n");
        exit(2);
    }
    try {
        $id = switchboard_publish($argv[1],
            json_decode($argv[2] ?? '[]', true, 512, JSON_THROW_ON_ERROR),
            json_decode($argv[3] ?? '{}', true, 512, JSON_THROW_ON_ERROR));
        echo json_encode(['id' => $id]), "\n";
    } catch (Exception $e) {
        fwrite(STDERR, 'publish.php: ' . $e->getMessage() . "\n");
        exit(1);
    }
}
