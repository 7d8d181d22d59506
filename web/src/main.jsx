// Entry point: styles, then the app into #app.
import { render } from 'preact';
import './styles/base.css';
import './styles/layout.css';
import './styles/components.css';
import './styles/pages.css';
import { App } from './app.jsx';

render(<App />, document.getElementById('app'));
